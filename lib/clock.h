/* Time for timeouts: milliseconds on the monotonic clock, and deadlines. */
#ifndef VSNAP_CLOCK_H
#define VSNAP_CLOCK_H

/* Milliseconds on the monotonic clock (never goes back, not wall time). */
long long vs_clock_ms(void);
/* The time left until deadline (a vs_clock_ms value) as a timeout for
 * poll(2): 0 once it has passed, at most INT_MAX. */
int vs_clock_left(long long deadline);

#endif
