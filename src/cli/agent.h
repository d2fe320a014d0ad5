/* sluice agent: a backend host registers its local server with a sluice
 * instance and keeps the registration alive under a lease (issue 16).
 * agent_opts.c reads the flags and the --config YAML file, agent_util.c
 * holds the pure pieces (backoff, load text), agent_check.c probes the
 * local target and runs --load-cmd, agent.c runs the protocol loop. */
#ifndef SL_CLI_AGENT_H
#define SL_CLI_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_AGENT_MAX_LABELS      32
#define SL_AGENT_HEARTBEAT_MS    2000u
#define SL_AGENT_BACKOFF_BASE_MS 500u
#define SL_AGENT_BACKOFF_MAX_MS  30000u

struct sl_agent_label {
    char key[128];
    char value[256];
};

struct sl_agent_opts {
    char server[512];
    char token[512];
    char service[128];
    char target[300];
    char name[128];
    struct sl_agent_label labels[SL_AGENT_MAX_LABELS];
    size_t nlabels;
    char city[128];
    char country[64];
    double lat, lon;
    bool has_lat, has_lon;
    char load_cmd[1024];
    uint32_t heartbeat_ms;
    char health_path[256]; /* "" = a TCP connect check */
    bool help;
};

/* Fills <o> from <argv> (argv[0] is the verb): a --config FILE first, then
 * the flags over it, then $SLUICE_TOKEN <env_token> (may be NULL) when
 * neither gave a token. 0, or 2 (usage) with a message in err. */
int sl_agent_opts_parse(int argc, char **argv, const char *env_token, struct sl_agent_opts *o,
                        char *err, size_t errlen);
/* Reads one "k=v" label into <o> (a key seen before is replaced). 0 or -1. */
int sl_agent_opts_label(struct sl_agent_opts *o, const char *kv, char *err, size_t errlen);
/* Reads "city=…,country=…,lat=…,lon=…" (any subset, any order). 0 or -1. */
int sl_agent_opts_location(struct sl_agent_opts *o, const char *spec, char *err, size_t errlen);

/* The wait before retry number <attempt> (0-based): 0.5 s doubling up to
 * 30 s, with "equal jitter": half fixed, half scaled by <r> in [0, 1), so
 * agents that lost the server together do not come back together. */
uint32_t sl_agent_backoff_ms(unsigned attempt, double r);
/* --load-cmd's stdout: one non-negative integer, blanks around it. 0/-1. */
int sl_agent_parse_load(const char *text, uint32_t *out);
/* /proc/loadavg's text: the 1-minute average x 100, rounded. 0/-1. */
int sl_agent_parse_loadavg(const char *text, uint32_t *out);

/* agent_check.c. Whether the local target answers: a TCP connect to
 * <target>, or with a <health_path> an HTTP GET answered 2xx/3xx. The
 * reason for a failure in why[whylen]. */
bool sl_agent_target_up(const char *target, const char *health_path, int timeout_ms, char *why,
                        size_t whylen);
/* The load to report: <cmd>'s stdout via /bin/sh -c within <timeout_ms>,
 * or without a command the load average. 0, or -1 with why. */
int sl_agent_load(const char *cmd, int timeout_ms, uint32_t *out, char *why, size_t whylen);

#endif /* SL_CLI_AGENT_H */
