/*
 * A leap second, inserted now, for the precise-tsc measurement in the
 * emulated AMD-V host: CLOCK_REALTIME steps back by one second and the
 * kernel's TAI offset grows by one, in one adjtimex() call, so that TAI
 * (CLOCK_REALTIME + TAI offset) does not move.  A restore that measures
 * the downtime on UTC loses that second; one on TAI does not.
 *
 * Build: gcc -O2 -static -o leap leap.c
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/timex.h>

int main(void)
{
    struct timex tx;
    int tai;

    memset(&tx, 0, sizeof(tx));
    if (adjtimex(&tx) < 0) {
        fprintf(stderr, "leap: adjtimex: %s\n", strerror(errno));
        return 1;
    }
    tai = tx.tai;
    memset(&tx, 0, sizeof(tx));
    tx.modes = ADJ_SETOFFSET | ADJ_NANO | ADJ_TAI;
    tx.time.tv_sec = -1;
    tx.time.tv_usec = 0;        /* nanoseconds with ADJ_NANO */
    tx.constant = tai + 1;
    if (adjtimex(&tx) < 0) {
        fprintf(stderr, "leap: adjtimex: %s\n", strerror(errno));
        return 1;
    }
    memset(&tx, 0, sizeof(tx));
    if (adjtimex(&tx) < 0 || tx.tai != tai + 1) {
        fprintf(stderr, "leap: the TAI offset is %d, not %d\n", tx.tai,
                tai + 1);
        return 1;
    }
    printf("leap: CLOCK_REALTIME -1 s, TAI offset %d -> %d\n", tai, tai + 1);
    return 0;
}
