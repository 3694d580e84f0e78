/* source.c - the pipeline's sources: capture files (pieces, two captures, --router) read as fast
 * as possible or paced at --speed (pause, step), live interfaces (non-blocking pcap polled by the
 * caller), -w dump files and the privilege drop (-Z). Packets are fed smallest timestamp first
 * among the sources; the outside capture's times are on the inside clock.
 * Limitations: with two live interfaces the packets of both are fed in the order they are read,
 * smallest timestamp first among those available; a packet that the other interface delivers
 * later with an earlier timestamp reaches the correlator slightly out of order. */
#include "pipeline_int.h"

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

#include <pcap/pcap.h>

#include "vpnscope/decode.h"

double pipeline_mono(void)
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

/* ---- privileges ---- */

int drop_privileges(const char *user, char *err, unsigned errlen)
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

/* ---- open ---- */

/* One -r capture point: the link type named in full when unsupported. */
static struct cap_src *open_single(const char *const *files, int n, const char *bpf, char *err,
                                   unsigned errlen)
{
    struct cap_src *s = cap_open_files(files, n, bpf, err, errlen);
    if (!s)
        return NULL;
    if (!decode_dlt_supported(cap_dlt(s))) {
        const char *dn = pcap_datalink_val_to_name(cap_dlt(s));
        const char *dd = pcap_datalink_val_to_description(cap_dlt(s));
        snprintf(err, errlen,
                 "%s: unsupported link type %s (%s, DLT %d); vpnscope reads Ethernet, "
                 "Linux cooked (SLL/SLL2), raw IP and BSD loopback",
                 files[0], dn ? dn : link_dlt_name(cap_dlt(s)), dd ? dd : "no description",
                 cap_dlt(s));
        cap_close(s);
        return NULL;
    }
    return s;
}

static int open_two_files(struct pipeline *p, char *err, unsigned errlen)
{
    const struct vpnscope_config *c = p->cfg;
    const char *const *pin = c->inside, *const *pout = c->outside;
    int nin = c->ninside, nout = c->noutside;
    if (clock_pass(p, &pin, &nin, &pout, &nout, err, errlen) != 0)
        return -1;
    /* the lists as used (swapped when the vote said so): report names, --export re-reads */
    p->captures[0] = pin;
    p->captures[1] = pout;
    pieces_label(pin, nin, p->name[0], sizeof(p->name[0]));
    pieces_label(pout, nout, p->name[1], sizeof(p->name[1]));
    if (!(p->src[0] = open_side(pin, nin, c->bpf, err, errlen)))
        return -1;
    if (!(p->src[1] = open_side(pout, nout, c->bpf, err, errlen)))
        return -1;
    p->pw[0] = pieces_watch_new(p->src[0], pin);
    p->pw[1] = pieces_watch_new(p->src[1], pout);
    return 0;
}

static int open_live(struct pipeline *p, char *err, unsigned errlen)
{
    const struct vpnscope_config *c = p->cfg;
    const char *ifs[2] = {c->iface ? c->iface : c->inside_if, c->outside_if};
    for (int i = 0; i < p->nsrc; i++) {
        p->ifnames[i][0] = ifs[i];
        p->captures[i] = p->ifnames[i];
        snprintf(p->name[i], sizeof(p->name[i]), "%s", ifs[i]);
        p->src[i] = cap_open_live(ifs[i], c->bpf, c->buffer_kib, err, errlen);
        if (!p->src[i])
            return -1;
    }
    if (p->two) {
        struct nat_corr_opts co;
        memset(&co, 0, sizeof(co));
        co.n_nat_addrs = c->n_nat_addrs;
        for (int i = 0; i < co.n_nat_addrs; i++)
            co.nat_addrs[i] = c->nat_addrs[i];
        p->corr = nat_corr_new(&co);
        p->clk.valid = true; /* one host clock */
        p->nat.clock.valid = true;
        if (!p->corr) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int open_dumps(struct pipeline *p, char *err, unsigned errlen)
{
    const char *w = p->cfg->write_path;
    if (!w)
        return 0;
    static const char *const suffix[2] = {"inside", "outside"};
    for (int i = 0; i < p->nsrc; i++) {
        char path[4096];
        if (p->nsrc == 1)
            snprintf(path, sizeof(path), "%s", w);
        else
            snprintf(path, sizeof(path), "%s-%s.pcap", w, suffix[i]);
        if (!(p->dump[i] = dump_open(p->cfg, path, p->src[i], err, errlen)))
            return -1;
    }
    return 0;
}

/* A -w write or flush of source i returned rc (not 0): a failed write fails the run, named by
 * the first frame it may have lost; the -G/-W file limit ends it as tcpdump does. */
static void dump_stop(struct pipeline *p, int i, int rc, const char *eb, uint64_t frame)
{
    for (int k = 0; k < p->nsrc; k++)
        p->done[k] = true;
    if (rc < 0) {
        /* a capture that cannot be recorded stops: nothing more is read */
        uint64_t lost = dump_unflushed(p->dump[i]);
        p->failed = true;
        snprintf(p->msg, sizeof(p->msg), "-w: %.400s; capture stopped at frame %" PRIu64, eb,
                 lost && lost < frame ? lost : frame);
    } else if (!p->msg[0]) {
        snprintf(p->msg, sizeof(p->msg), "-w: the -W file count is reached");
    }
}

/* -w of one packet that passed the filter, with the capture's own time (not the inside clock). */
static void dump_one(struct pipeline *p, int i, const struct raw_pkt *r)
{
    struct raw_pkt orig = *r;
    orig.ts_us = p->pend_ts[i];
    char eb[sizeof(p->msg)];
    int rc = dump_packet(p->dump[i], &orig, eb, sizeof(eb));
    if (rc != 0)
        dump_stop(p, i, rc, eb, r->frame);
}

int sources_open(struct pipeline *p, char *err, unsigned errlen)
{
    const struct vpnscope_config *c = p->cfg;
    int rc = 0;
    if (c->nfiles) {
        pieces_label(c->files, c->nfiles, p->name[0], sizeof(p->name[0]));
        p->captures[0] = c->files;
        p->src[0] = open_single(c->files, c->nfiles, c->bpf, err, errlen);
        rc = p->src[0] ? 0 : -1;
        if (rc == 0 && clockstep_fwd_enable(&p->cs[0]) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        if (rc == 0)
            p->pw[0] = pieces_watch_new(p->src[0], c->files);
    } else if (c->ninside) {
        p->captures[0] = c->inside;
        p->captures[1] = c->outside;
        rc = open_two_files(p, err, errlen);
    } else if (c->router) {
        p->router_list[0] = c->router;
        p->captures[0] = p->captures[1] = p->router_list;
        snprintf(p->name[0], sizeof(p->name[0]), "%s (router)", c->router);
        snprintf(p->name[1], sizeof(p->name[1]), "%s (router)", c->router);
        rc = router_split_open(p, err, errlen);
        if (rc == 0 && !(p->src[0] = open_side(p->router_list, 1, c->bpf, err, errlen)))
            rc = -1;
    } else {
        rc = open_live(p, err, errlen);
    }
    /* a live -w file is created after the privilege drop, as tcpdump -Z does: it belongs to
     * the user the capture runs as (and a rotating ring can reopen its first file); reading
     * files, nothing is dropped and it is opened at once */
    bool late = p->live;
    if (rc == 0 && !late)
        rc = open_dumps(p, err, errlen);
    if (rc == 0 && p->live)
        rc = drop_privileges(c->drop_user, err, errlen);
    if (rc == 0 && late)
        rc = open_dumps(p, err, errlen);
    return rc;
}

/* ---- feeding ---- */

/* A frame that repeats another piece's packet: counted (packets, duplicate), not analysed. */
void count_duplicate(struct pipeline *p, int e, const struct raw_pkt *r)
{
    struct session_counts *c = &engine_model(p->eng[e])->c;
    c->packets++;
    c->duplicate++;
    if (!c->first_ts || r->ts_us < c->first_ts)
        c->first_ts = r->ts_us;
    if (r->ts_us > c->last_ts)
        c->last_ts = r->ts_us;
}

static void feed_one(struct pipeline *p, int i)
{
    struct raw_pkt *r = &p->pend[i];
    if (p->dump[i] && !r->filtered)
        dump_one(p, i, r);
    int e = p->router ? router_split_side(p, r) : i;
    if (p->pw[i] && pieces_watch_repeat(p->pw[i], r)) {
        count_duplicate(p, e, r);
    } else {
        const struct pkt *pk = engine_packet(p->eng[e], r);
        if (pk && p->pw[i])
            pieces_watch_packet(p->pw[i], r->piece, pk);
        if (pk && p->corr && (!p->router || router_split_correlates(p)))
            nat_corr_packet(p->corr, (uint8_t)(e + 1), pk);
    }
    p->packets++;
    p->bytes += r->len;
    if (!p->first_ts || r->ts_us < p->first_ts)
        p->first_ts = r->ts_us;
    if (r->ts_us > p->last_ts)
        p->last_ts = r->ts_us;
    if (p->last_ts > p->now_us)
        p->now_us = p->last_ts;
    if (p->live || p->paced)
        p->last_wall = pipeline_mono();
    p->have[i] = false;
    if (!r->filtered)
        p->fed[i]++; /* -c counts the packets that pass the filter, as tcpdump */
    if (r->ts_us > p->side_last[i])
        p->side_last[i] = r->ts_us;
    if (p->cfg->count > 0 && p->fed[i] >= p->cfg->count) {
        p->done[i] = true;
        clock_side_ended(p, i);
    }
}

/* Reads the next packet of source i into pend[i] when it has none. */
static void refill(struct pipeline *p, int i)
{
    if (p->have[i] || p->done[i])
        return;
    char eb[VPNSCOPE_ERRBUF_SIZE * 2];
    uint64_t raw = 0;
    int rc = clockstep_next(&p->cs[i], p->src[i], &p->pend[i], &raw, eb, sizeof(eb));
    if (rc == 1) {
        p->have[i] = true;
        p->pend_ts[i] = raw;
        if (p->two && !p->live && !p->router && i == 1)
            p->pend[1].ts_us = nat_clock_to_inside(&p->clk, p->pend[1].ts_us);
        return;
    }
    if (rc == 2) {
        /* live, the kernel holds nothing more for now: what -w wrote reaches the file */
        char fb[VPNSCOPE_ERRBUF_SIZE];
        uint64_t lost = p->dump[i] ? dump_unflushed(p->dump[i]) : 0;
        if (lost && dump_flush(p->dump[i], fb, sizeof(fb)) != 0)
            dump_stop(p, i, -1, fb, lost);
        return;
    }
    p->done[i] = true;
    clock_side_ended(p, i);
    if (rc == 3 && p->n == 1 && !p->live && !p->paced)
        fprintf(stderr, "vpnscope: warning: %s\n", eb);
    else if (rc == 3 && !p->msg[0] && !(p->two && !p->live))
        snprintf(p->msg, sizeof(p->msg), "warning: %.490s", eb);
    if (rc < 0) {
        p->failed = true;
        snprintf(p->msg, sizeof(p->msg), "%s", eb);
    }
}

/* Replay in the dashboard: whether the packet at ts may be fed now (pause, steps, --speed). */
static bool replay_due(struct pipeline *p, uint64_t ts, int *wait_ms)
{
    if (p->paused) {
        if (p->step_pkts > 0) {
            p->step_pkts--;
            return true;
        }
        if (p->step_until && ts <= p->step_until)
            return true; /* stepping one second of packet time */
        p->step_until = 0;
        return false;
    }
    if (p->cfg->speed <= 0)
        return true;
    double now = pipeline_mono();
    if (!p->based) {
        p->based = true;
        p->base_ts = ts;
        p->base_wall = now;
    }
    double due =
        p->base_wall + (double)(ts > p->base_ts ? ts - p->base_ts : 0) / 1e6 / p->cfg->speed;
    if (due <= now)
        return true;
    double ms = ceil((due - now) * 1000.0);
    *wait_ms = ms > 1e6 ? 1000000 : (int)ms;
    return false;
}

/* The source whose pending packet is due first, -1 when none has one (sets ended when all are
 * done). */
static int next_source(struct pipeline *p)
{
    int best = -1;
    for (int i = 0; i < p->nsrc; i++)
        if (p->have[i] && (best < 0 || p->pend[i].ts_us < p->pend[best].ts_us))
            best = i;
    if (best >= 0)
        return best;
    bool all = true;
    for (int i = 0; i < p->nsrc; i++)
        all = all && p->done[i];
    if (all) {
        p->ended = true;
        if (!p->msg[0] && (p->live || p->paced))
            snprintf(p->msg, sizeof(p->msg), "%s",
                     p->live ? "capture ended (-c reached)" : "replay finished");
    }
    return -1;
}

/* One capture read as fast as possible (batch): no pacing and no choice between sources, same
 * accounting as the general loop. */
static long step_one_source(struct pipeline *p)
{
    long n = 0;
    while (!p->done[0]) {
        refill(p, 0);
        if (!p->have[0])
            break;
        feed_one(p, 0);
        n++;
        if ((n & 1023) == 0 && p->stop && *p->stop)
            return n; /* a signal: the caller stops (pipeline_interrupt) */
    }
    if (p->failed)
        p->ended = true;
    else
        next_source(p); /* sets ended */
    return n;
}

long sources_step(struct pipeline *p, double budget_ms, int *wait_ms)
{
    if (p->nsrc == 1 && !p->paced && !p->live && budget_ms < 0) {
        *wait_ms = -1;
        return step_one_source(p);
    }
    if (sides_wanted(p)) {
        *wait_ms = -1;
        return sides_step(p, budget_ms);
    }
    double t0 = budget_ms >= 0 ? pipeline_mono() : 0;
    long n = 0;
    *wait_ms = -1;
    while (!p->ended) {
        for (int i = 0; i < p->nsrc; i++)
            refill(p, i);
        if (p->failed) {
            /* a failed source (read error, interface down) ends the run */
            for (int i = 0; i < p->nsrc; i++)
                p->done[i] = true;
            p->ended = true;
            break;
        }
        int best = next_source(p);
        if (best < 0)
            break; /* live: nothing now */
        if (p->paced && !replay_due(p, p->pend[best].ts_us, wait_ms))
            break;
        feed_one(p, best);
        n++;
        if (budget_ms >= 0 && (n & 31) == 0 && (pipeline_mono() - t0) * 1000.0 >= budget_ms) {
            *wait_ms = 0;
            break;
        }
    }
    return n;
}

/* ---- live and replay controls ---- */

int pipeline_fds(const struct pipeline *p, int *fds)
{
    int n = 0;
    if (!p->live)
        return 0;
    for (int i = 0; i < p->nsrc; i++)
        if (!p->done[i] && p->src[i] && cap_fd(p->src[i]) >= 0)
            fds[n++] = cap_fd(p->src[i]);
    return n;
}

void pipeline_tick(struct pipeline *p)
{
    if (!p->live || p->ended)
        return;
    uint64_t now =
        p->last_ts ? p->last_ts + (uint64_t)((pipeline_mono() - p->last_wall) * 1e6) : wall_us();
    if (now <= p->now_us)
        return;
    p->now_us = now;
    for (int i = 0; i < p->n; i++)
        engine_tick(p->eng[i], now);
}

void pipeline_drops(struct pipeline *p)
{
    if (!p->live)
        return;
    uint64_t d = 0;
    for (int i = 0; i < p->nsrc; i++)
        if (p->src[i])
            d += cap_kernel_drops(p->src[i]);
    p->drops = d;
}

void pipeline_pause(struct pipeline *p, bool paused)
{
    p->paused = paused;
    p->step_pkts = 0;
    p->step_until = 0;
    if (!paused)
        p->based = false; /* resume pacing from here */
}

void pipeline_step_packet(struct pipeline *p)
{
    if (p->paused)
        p->step_pkts++;
}

void pipeline_step_second(struct pipeline *p)
{
    if (!p->paused)
        return;
    uint64_t from = p->now_us;
    for (int i = 0; i < p->nsrc; i++)
        if (p->have[i] && (!from || p->pend[i].ts_us < from))
            from = p->pend[i].ts_us;
    p->step_until = from + 1000000u;
}
