/* live.c - the dashboard's packet feed: replayed captures paced at --speed (pause, step) or live
 * interfaces (non-blocking pcap polled by the caller), one engine per capture point, the NAT
 * correlator for two points, -w dump files and the privilege drop (-Z).
 * Limitations: with two live interfaces the packets of both are fed in the order they are read,
 * smallest timestamp first among those available; a packet that the other interface delivers
 * later with an earlier timestamp reaches the correlator slightly out of order. */
#include "ui_int.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "vpnscope/config.h"

double ui_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int count_list(const char *const *v)
{
    int n = 0;
    while (v && v[n])
        n++;
    return n;
}

static void label(char *buf, size_t size, const char *const *v)
{
    int n = count_list(v);
    if (n <= 1)
        snprintf(buf, size, "%s", n ? v[0] : "-");
    else
        snprintf(buf, size, "%s (+%d)", v[0], n - 1);
}

/* ---- two files: the clock between the captures (as nat_run's first pass) ---- */

static int sample_side(const char *const *paths, const char *bpf, uint8_t side,
                       struct nat_sampler *smp, uint64_t *first, uint64_t *last, char *err,
                       unsigned errlen)
{
    struct cap_src *s = cap_open_files(paths, count_list(paths), bpf, err, errlen);
    if (!s)
        return -1;
    struct engine_opts eo;
    memset(&eo, 0, sizeof(eo));
    eo.no_ndpi = true;
    struct engine *e = engine_new(side, &eo, err, errlen);
    if (!e) {
        cap_close(s);
        return -1;
    }
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE * 2];
    int rc;
    *first = 0;
    *last = 0;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        if (!*first || r.ts_us < *first)
            *first = r.ts_us;
        if (r.ts_us > *last)
            *last = r.ts_us;
        const struct pkt *p = engine_packet(e, &r);
        if (p)
            nat_sampler_add(smp, side, p);
    }
    engine_free(e);
    cap_close(s);
    if (rc < 0) {
        snprintf(err, errlen, "%s", eb);
        return -1;
    }
    return 0;
}

static int two_files_clock(struct feed *f, const char *const **pin, const char *const **pout,
                           struct nat_corr_opts *co, char *err, unsigned errlen)
{
    struct nat_sampler *smp = nat_sampler_new();
    if (!smp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t f0, l0, f1, l1;
    if (sample_side(*pin, f->o->bpf, SIDE_INSIDE, smp, &f0, &l0, err, errlen) != 0 ||
        sample_side(*pout, f->o->bpf, SIDE_OUTSIDE, smp, &f1, &l1, err, errlen) != 0) {
        nat_sampler_free(smp);
        return -1;
    }
    long votes = 0;
    nat_sampler_solve(smp, false, &f->clk, &votes);
    if (f->clk.valid && votes >= 3) {
        struct nat_clock c2;
        long v2 = 0;
        nat_sampler_solve(smp, true, &c2, &v2);
        if (c2.valid) {
            f->clk = c2;
            const char *const *t = *pin;
            *pin = *pout;
            *pout = t;
            uint64_t a = f0, b = l0;
            f0 = f1;
            l0 = l1;
            f1 = a;
            l1 = b;
            snprintf(f->msg, sizeof(f->msg),
                     "inside and outside look swapped: %s is used as the inside capture",
                     (*pin)[0]);
        }
    }
    nat_sampler_free(smp);
    memset(co, 0, sizeof(*co));
    if (f->clk.valid) {
        uint64_t a = nat_clock_to_inside(&f->clk, f1), b = nat_clock_to_inside(&f->clk, l1);
        co->cover_from_us = (f0 > a ? f0 : a) + 100000u;
        uint64_t to = l0 < b ? l0 : b;
        co->cover_to_us = to > 100000u ? to - 100000u : 0;
    } else if (!f->msg[0]) {
        snprintf(f->msg, sizeof(f->msg),
                 "no packet of the inside capture appears in the outside one: no NAT mappings");
    }
    return 0;
}

/* ---- privileges ---- */

int ui_drop_privileges(const char *user, char *err, unsigned errlen)
{
    if (geteuid() != 0)
        return 0; /* never drop when not root */
    const char *name = user ? user : "nobody";
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        if (!user)
            return 0; /* default policy: only when "nobody" exists */
        snprintf(err, errlen, "-Z %s: no such user", name);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0)
        return 0;
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "-Z %s: cannot drop privileges: %s", name, strerror(errno));
        return -1;
    }
    /* verify: every id changed and root cannot be regained */
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        setuid(0) == 0) {
        snprintf(err, errlen, "-Z %s: privileges were not dropped", name);
        return -1;
    }
    return 0;
}

/* ---- open / close ---- */

int feed_open(struct feed *f, const struct ui_opts *o, char *err, unsigned errlen)
{
    memset(f, 0, sizeof(*f));
    f->o = o;
    struct engine_opts eo;
    memset(&eo, 0, sizeof(eo));
    f->live = o->iface || o->inside_if || o->outside_if;
    if (o->write_path && !f->live) {
        snprintf(err, errlen, "-w saves live captures only");
        return -1;
    }
    if (o->files) {
        f->n = 1;
        f->files[0] = o->files;
        label(f->name[0], sizeof(f->name[0]), o->files);
        f->src[0] = cap_open_files(o->files, count_list(o->files), o->bpf, err, errlen);
        if (!f->src[0])
            return -1;
        f->eng[0] = engine_new(o->side_given ? o->side : SIDE_SINGLE, &eo, err, errlen);
    } else if (o->inside && o->outside) {
        f->n = 2;
        f->two = true;
        const char *const *pin = o->inside, *const *pout = o->outside;
        struct nat_corr_opts co;
        if (two_files_clock(f, &pin, &pout, &co, err, errlen) != 0)
            return -1;
        f->files[0] = pin;
        f->files[1] = pout;
        label(f->name[0], sizeof(f->name[0]), pin);
        label(f->name[1], sizeof(f->name[1]), pout);
        for (int i = 0; i < 2; i++) {
            f->src[i] = cap_open_files(f->files[i], count_list(f->files[i]), o->bpf, err, errlen);
            if (!f->src[i])
                return -1;
        }
        if (f->clk.valid && !(f->corr = nat_corr_new(&co))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        f->eng[0] = engine_new(SIDE_INSIDE, &eo, err, errlen);
        if (f->eng[0])
            f->eng[1] = engine_new(SIDE_OUTSIDE, &eo, err, errlen);
        if (!f->eng[1])
            return -1;
    } else if (o->iface) {
        f->n = 1;
        f->ifnames[0][0] = o->iface;
        f->files[0] = f->ifnames[0];
        snprintf(f->name[0], sizeof(f->name[0]), "%s", o->iface);
        f->src[0] = cap_open_live(o->iface, o->bpf, err, errlen);
        if (!f->src[0])
            return -1;
        f->eng[0] = engine_new(o->side_given ? o->side : SIDE_SINGLE, &eo, err, errlen);
    } else if (o->inside_if && o->outside_if) {
        f->n = 2;
        f->two = true;
        const char *ifs[2] = {o->inside_if, o->outside_if};
        for (int i = 0; i < 2; i++) {
            f->ifnames[i][0] = ifs[i];
            f->files[i] = f->ifnames[i];
            snprintf(f->name[i], sizeof(f->name[i]), "%s", ifs[i]);
            f->src[i] = cap_open_live(ifs[i], o->bpf, err, errlen);
            if (!f->src[i])
                return -1;
        }
        struct nat_corr_opts co;
        memset(&co, 0, sizeof(co));
        f->corr = nat_corr_new(&co);
        f->clk.valid = true; /* one host clock */
        f->eng[0] = engine_new(SIDE_INSIDE, &eo, err, errlen);
        if (f->eng[0])
            f->eng[1] = engine_new(SIDE_OUTSIDE, &eo, err, errlen);
        if (!f->corr) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (!f->eng[1])
            return -1;
    } else {
        snprintf(err, errlen, "no input");
        return -1;
    }
    if (!f->eng[0])
        return -1;
    if (o->write_path) {
        if (f->n == 1) {
            if (!cap_dump_open(f->src[0], o->write_path, err, errlen))
                return -1;
        } else {
            static const char *const suffix[2] = {"inside", "outside"};
            for (int i = 0; i < 2; i++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s-%s.pcap", o->write_path, suffix[i]);
                if (!cap_dump_open(f->src[i], path, err, errlen))
                    return -1;
            }
        }
    }
    if (ui_drop_privileges(o->drop_user, err, errlen) != 0)
        return -1;
    return 0;
}

void feed_close(struct feed *f)
{
    for (int i = 0; i < 2; i++) {
        cap_close(f->src[i]);
        engine_free(f->eng[i]);
        f->src[i] = NULL;
        f->eng[i] = NULL;
    }
    nat_corr_free(f->corr);
    f->corr = NULL;
}

int feed_fds(const struct feed *f, int *fds)
{
    int n = 0;
    if (!f->live)
        return 0;
    for (int i = 0; i < f->n; i++)
        if (!f->done[i] && f->src[i] && cap_fd(f->src[i]) >= 0)
            fds[n++] = cap_fd(f->src[i]);
    return n;
}

/* ---- feeding ---- */

static void feed_one(struct feed *f, int i)
{
    struct raw_pkt *r = &f->pend[i];
    if (f->live && f->o->write_path)
        cap_dump(f->src[i], r);
    const struct pkt *p = engine_packet(f->eng[i], r);
    if (p && f->corr)
        nat_corr_packet(f->corr, (uint8_t)(i + 1), p);
    f->packets++;
    f->bytes += r->len;
    if (!f->first_ts || r->ts_us < f->first_ts)
        f->first_ts = r->ts_us;
    if (r->ts_us > f->last_ts)
        f->last_ts = r->ts_us;
    if (f->last_ts > f->now_us)
        f->now_us = f->last_ts;
    f->last_wall = ui_mono();
    f->have[i] = false;
    f->fed[i]++;
    if (f->o->count > 0 && f->fed[i] >= f->o->count)
        f->done[i] = true;
}

/* Reads the next packet of source i into pend[i] when it has none. */
static void refill(struct feed *f, int i)
{
    if (f->have[i] || f->done[i])
        return;
    char eb[VPNSCOPE_ERRBUF_SIZE * 2];
    int rc = cap_next(f->src[i], &f->pend[i], eb, sizeof(eb));
    if (rc == 1) {
        f->have[i] = true;
        if (f->two && !f->live && i == 1)
            f->pend[1].ts_us = nat_clock_to_inside(&f->clk, f->pend[1].ts_us);
        return;
    }
    if (rc == 2)
        return;
    f->done[i] = true;
    if (rc == 3 && !f->msg[0])
        snprintf(f->msg, sizeof(f->msg), "warning: %.490s", eb);
    if (rc < 0) {
        f->failed = true;
        snprintf(f->msg, sizeof(f->msg), "%s", eb);
    }
}

long feed_pump(struct feed *f, double budget_ms, int *wait_ms)
{
    double t0 = ui_mono();
    long n = 0;
    *wait_ms = -1;
    while (!f->ended) {
        for (int i = 0; i < f->n; i++)
            refill(f, i);
        if (f->failed) {
            /* a failed live source (interface down) ends the run, with its summary */
            for (int i = 0; i < f->n; i++)
                f->done[i] = true;
            f->ended = true;
            break;
        }
        int best = -1;
        for (int i = 0; i < f->n; i++)
            if (f->have[i] && (best < 0 || f->pend[i].ts_us < f->pend[best].ts_us))
                best = i;
        if (best < 0) {
            bool all = true;
            for (int i = 0; i < f->n; i++)
                all = all && f->done[i];
            if (all) {
                f->ended = true;
                if (!f->msg[0])
                    snprintf(f->msg, sizeof(f->msg), "%s",
                             f->live ? "capture ended (-c reached)" : "replay finished");
            }
            break; /* live: nothing now */
        }
        if (!f->live) {
            uint64_t ts = f->pend[best].ts_us;
            if (f->paused) {
                if (f->step_pkts > 0) {
                    f->step_pkts--;
                } else if (f->step_until && ts <= f->step_until) {
                    /* stepping one second of packet time */
                } else {
                    f->step_until = 0;
                    break;
                }
            } else if (f->o->speed > 0) {
                double now = ui_mono();
                if (!f->based) {
                    f->based = true;
                    f->base_ts = ts;
                    f->base_wall = now;
                }
                double due = f->base_wall +
                             (double)(ts > f->base_ts ? ts - f->base_ts : 0) / 1e6 / f->o->speed;
                if (due > now) {
                    double ms = ceil((due - now) * 1000.0);
                    *wait_ms = ms > 1e6 ? 1000000 : (int)ms;
                    break;
                }
            }
        }
        feed_one(f, best);
        n++;
        if ((n & 31) == 0 && (ui_mono() - t0) * 1000.0 >= budget_ms) {
            *wait_ms = 0;
            break;
        }
    }
    return n;
}

void feed_tick(struct feed *f)
{
    if (!f->live || f->ended)
        return;
    uint64_t now =
        f->last_ts ? f->last_ts + (uint64_t)((ui_mono() - f->last_wall) * 1e6) : wall_us();
    if (now <= f->now_us)
        return;
    f->now_us = now;
    for (int i = 0; i < f->n; i++)
        engine_tick(f->eng[i], now);
}

void feed_drops(struct feed *f)
{
    if (!f->live)
        return;
    uint64_t d = 0;
    for (int i = 0; i < f->n; i++)
        if (f->src[i])
            d += cap_kernel_drops(f->src[i]);
    f->drops = d;
}

void feed_pause(struct feed *f, bool paused)
{
    f->paused = paused;
    f->step_pkts = 0;
    f->step_until = 0;
    if (!paused)
        f->based = false; /* resume pacing from here */
}

void feed_step_packet(struct feed *f)
{
    if (f->paused)
        f->step_pkts++;
}

void feed_step_second(struct feed *f)
{
    if (!f->paused)
        return;
    uint64_t from = f->now_us;
    for (int i = 0; i < f->n; i++)
        if (f->have[i] && (!from || f->pend[i].ts_us < from))
            from = f->pend[i].ts_us;
    f->step_until = from + 1000000u;
}

void feed_finish(struct feed *f)
{
    if (f->finished)
        return;
    f->finished = true;
    feed_drops(f);
    for (int i = 0; i < f->n; i++) {
        engine_finish(f->eng[i]);
        struct session_model *m = engine_model(f->eng[i]);
        if (!f->two && !f->o->side_given)
            m->side = SIDE_SINGLE;
    }
}
