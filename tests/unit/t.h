/* t.h - minimal unit-test helpers: CHECK counts and reports; main returns non-zero on failure. */
#ifndef VPNSCOPE_T_H
#define VPNSCOPE_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            t_pass++;                                                                              \
        } else {                                                                                   \
            t_fail++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ == t_b_) {                                                                        \
            t_pass++;                                                                              \
        } else {                                                                                   \
            t_fail++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", __FILE__, __LINE__,  \
                    #a, t_a_, #b, t_b_);                                                           \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0) {                                             \
            t_pass++;                                                                              \
        } else {                                                                                   \
            t_fail++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", %s = \"%s\"\n", __FILE__,       \
                    __LINE__, #a, t_a_ ? t_a_ : "(null)", #b, t_b_ ? t_b_ : "(null)");             \
        }                                                                                          \
    } while (0)

/* Prints the closing line and returns the exit status for main(). A test that checked nothing
 * fails. */
static inline int t_done(void)
{
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return (t_fail == 0 && t_pass > 0) ? 0 : 1;
}

#endif
