/* sluice: the daemon and its command-line verbs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct verb verbs[] = {
    {"serve", sl_cli_serve, "run the load balancer (sluice serve -c FILE)"},
    {"check", sl_cli_check, "validate a configuration file (sluice check -c FILE)"},
    {"agent", sl_cli_agent, "register this host's server with a sluice and keep it alive"},
};

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: sluice <command> [options]\n"
                       "       sluice --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        (void)fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].help);
    (void)fprintf(out, "\nadmin API commands ([--server URL] [--token T] [-c FILE] [--json]):\n");
    sl_cli_client_usage(out);
    (void)fprintf(out, "\n`sluice <command> --help` describes a command's options.\n");
}

/* A client verb's global option may come first: sluice --json query. */
static bool client_option(const char *arg)
{
    static const char *const opts[] = {"--server", "--token", "--json", "--config", "-c"};

    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        size_t n = strlen(opts[i]);

        if (strncmp(arg, opts[i], n) == 0 && (arg[n] == '\0' || arg[n] == '='))
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].run(argc - 1, argv + 1);
    if (sl_cli_client_verb(argv[1]) || client_option(argv[1]))
        return sl_cli_client(argc, argv);
    if (argv[1][0] == '-')
        (void)fprintf(stderr, "sluice: unknown option '%s'\n\n", argv[1]);
    else
        (void)fprintf(stderr, "sluice: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
