/* Entry points of the command-line verbs (one file per verb). Each takes
 * the arguments after the verb (argv[0] is the verb) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. Only src/cli
 * may print usage or exit. */
#ifndef SL_CLI_CLI_H
#define SL_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sluice_version.h" /* SLUICE_VERSION_STRING, from CMake's project(VERSION) */

int sl_cli_serve(int argc, char **argv);
int sl_cli_check(int argc, char **argv);
/* sluice agent (agent.c): register a local server, heartbeat, deregister. */
int sl_cli_agent(int argc, char **argv);

/* The admin API client verbs (client.c): query, backend, service,
 * endpoint, route, shape, token. Takes the whole argv (argv[0] the
 * program), since global options may come before the verb. */
int sl_cli_client(int argc, char **argv);
/* Whether <verb> is one of them. */
bool sl_cli_client_verb(const char *verb);
/* One line per client verb, for sluice --help. */
void sl_cli_client_usage(FILE *out);

struct sl_config;
/* The bootstrap token file of <cfg> (loaded, so cfg->state is resolved):
 * admin.token_file, default admin.token, a relative one beside the state
 * store. serve writes it and the client verbs read it: one rule for both. */
void sl_cli_token_file(const struct sl_config *cfg, char *out, size_t n);

#endif /* SL_CLI_CLI_H */
