#include "config.h"

#include <limits.h>
#include <time.h>

#include "clock.h"

long long
vs_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vs_clock_left(long long deadline)
{
    long long r = deadline - vs_clock_ms();

    return r <= 0 ? 0 : r > INT_MAX ? INT_MAX : (int)r;
}
