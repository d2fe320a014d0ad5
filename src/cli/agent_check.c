/* sluice agent's look at its own host: is the local target up, and what
 * load to report. Each call is bounded in time. */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "http_client.h"
#include "net/log.h"

/* 0 when <fd> connects to <a> within timeout_ms, else an errno value. */
static int connect_err(int fd, const struct addrinfo *a, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    socklen_t sl = sizeof(int);
    int err = 0;

    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
        return errno;
    return err;
}

/* A TCP connect to one of <u>'s addresses within timeout_ms. */
static bool tcp_up(const struct sl_url *u, int timeout_ms, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(u->host, u->port, &hints, &ai), err = 0;
    bool up = false;

    if (rc != 0) {
        (void)snprintf(why, whylen, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return false;
    }
    for (struct addrinfo *a = ai; a != NULL && !up; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0) {
            err = errno;
            continue;
        }
        err = connect_err(fd, a, timeout_ms);
        up = err == 0;
        (void)close(fd);
    }
    freeaddrinfo(ai);
    if (!up)
        (void)snprintf(why, whylen, "connect %s:%s: %s", u->host, u->port,
                       sl_errstr(err ? err : ECONNREFUSED));
    return up;
}

bool sl_agent_target_up(const char *target, const char *health_path, int timeout_ms, char *why,
                        size_t whylen)
{
    struct sl_http_result r = {0};
    struct sl_url u;
    bool up;

    if (sl_url_parse(target, &u, why, whylen) != 0)
        return false;
    if (health_path == NULL || health_path[0] == '\0')
        return tcp_up(&u, timeout_ms, why, whylen);
    u.prefix[0] = '\0';
    if (sl_http_call(&u, "GET", health_path, NULL, NULL, timeout_ms, &r, why, whylen) != 0)
        return false;
    up = r.status >= 200 && r.status < 400;
    if (!up)
        (void)snprintf(why, whylen, "GET %s answered %d", health_path, r.status);
    sl_http_result_free(&r);
    return up;
}

static long long now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's stdout into buf until EOF or the deadline. */
static int read_bounded(int fd, char *buf, size_t n, long long deadline)
{
    size_t len = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
            return -1;
        r = read(fd, buf + len, n - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == n - 1)
            break;
    }
    buf[len] = '\0';
    return 0;
}

static int run_cmd(const char *cmd, int timeout_ms, uint32_t *out, char *why, size_t whylen)
{
    char buf[128];
    int p[2], status = 0, rc;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0) {
        (void)snprintf(why, whylen, "pipe: %s", sl_errstr(errno));
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        (void)setpgid(0, 0); /* so that a timeout kills what the command started too */
        (void)dup2(p[1], STDOUT_FILENO);
        (void)execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    (void)close(p[1]);
    if (pid < 0) {
        (void)close(p[0]);
        (void)snprintf(why, whylen, "fork: %s", sl_errstr(errno));
        return -1;
    }
    rc = read_bounded(p[0], buf, sizeof(buf), now_ms() + timeout_ms);
    (void)close(p[0]);
    /* A hung command must not stop the heartbeats (the group may not exist
     * yet if the child has not run). */
    if (rc != 0 && kill(-pid, SIGKILL) != 0)
        (void)kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc != 0) {
        (void)snprintf(why, whylen, "--load-cmd took more than %d ms", timeout_ms);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)snprintf(why, whylen, "--load-cmd failed (status %d)",
                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -1;
    }
    if (sl_agent_parse_load(buf, out) != 0) {
        (void)snprintf(why, whylen, "--load-cmd printed '%.40s', not an integer", buf);
        return -1;
    }
    return 0;
}

int sl_agent_load(const char *cmd, int timeout_ms, uint32_t *out, char *why, size_t whylen)
{
    char buf[128];
    FILE *f;
    size_t n;

    if (cmd != NULL && cmd[0] != '\0')
        return run_cmd(cmd, timeout_ms, out, why, whylen);
    f = fopen("/proc/loadavg", "re");
    if (f == NULL) {
        (void)snprintf(why, whylen, "/proc/loadavg: %s", sl_errstr(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    if (sl_agent_parse_loadavg(buf, out) != 0) {
        (void)snprintf(why, whylen, "/proc/loadavg: unexpected text");
        return -1;
    }
    return 0;
}
