/*
 * A minimal QMP client for the busybox initramfs of the precise-tsc
 * end-to-end measurement (built static at run time).
 *
 *   qmp [-w SECONDS] [-t] SOCKET COMMAND-JSON...
 *
 * Connects to SOCKET (retrying for up to -w seconds while it does not exist
 * yet), negotiates capabilities, sends each COMMAND-JSON in turn and prints
 * its reply line ("return" or "error"; events are skipped).  With -t, each
 * reply is followed by "TS <CLOCK_REALTIME ns>" taken when it arrived.
 * Exits 1 when a command got an error reply, 2 on connection problems.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];
static size_t len;

static int read_line(int fd, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(buf, '\n', len);

        if (nl) {
            size_t n = nl - buf + 1;
            size_t copy = n < size ? n : size - 1;

            memcpy(line, buf, copy);
            line[copy] = 0;
            while (copy && (line[copy - 1] == '\n' || line[copy - 1] == '\r')) {
                line[--copy] = 0;
            }
            memmove(buf, buf + n, len - n);
            len -= n;
            return 0;
        }
        if (len == sizeof(buf)) {
            return -1;
        }
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        len += r;
    }
}

static int command(int fd, const char *cmd, char *reply, size_t size)
{
    size_t n = strlen(cmd);

    if (write(fd, cmd, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
        return -1;
    }
    for (;;) {
        if (read_line(fd, reply, size) < 0) {
            return -1;
        }
        if (strstr(reply, "\"return\"") || strstr(reply, "\"error\"")) {
            return 0;
        }
    }
}

static unsigned long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static char reply[1 << 20];
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    double wait_s = 0;
    int stamp = 0, fd = -1, status = 0, i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-t")) {
            stamp = 1;
        } else if (!strcmp(argv[i], "-w") && i + 1 < argc) {
            wait_s = atof(argv[++i]);
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr,
                "usage: qmp [-w SECONDS] [-t] SOCKET COMMAND-JSON...\n");
        return 2;
    }
    strncpy(addr.sun_path, argv[i++], sizeof(addr.sun_path) - 1);
    for (double waited = 0;; waited += 0.05) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 &&
            connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            break;
        }
        if (fd >= 0) {
            close(fd);
        }
        if (waited >= wait_s) {
            perror("qmp: connect");
            return 2;
        }
        usleep(50000);
    }
    if (read_line(fd, reply, sizeof(reply)) < 0 ||
        command(fd, "{\"execute\":\"qmp_capabilities\"}", reply,
                sizeof(reply)) < 0) {
        fprintf(stderr, "qmp: no QMP greeting\n");
        return 2;
    }
    for (; i < argc; i++) {
        if (command(fd, argv[i], reply, sizeof(reply)) < 0) {
            fprintf(stderr, "qmp: connection lost\n");
            return 2;
        }
        printf("%s\n", reply);
        if (stamp) {
            printf("TS %llu\n", now_ns());
        }
        if (strstr(reply, "\"error\"")) {
            status = 1;
        }
    }
    fflush(stdout);
    close(fd);
    return status;
}
