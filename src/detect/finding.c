/* finding.c - finding lists: kinds, default severities, evidence helpers, sorts. */
#include "vpnscope/finding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"

const char *finding_kind_name(unsigned kind)
{
    switch (kind) {
    case FINDING_ESP_COLLISION:
        return "esp_collision";
    case FINDING_STALE_NAT:
        return "stale_nat";
    case FINDING_FRAGMENT_REORDER:
        return "fragment_reorder";
    case FINDING_FRAGMENT_LOSS:
        return "fragment_loss";
    case FINDING_AH_NAT:
        return "ah_nat";
    case FINDING_NATT_NOT_USED:
        return "natt_not_used";
    case FINDING_IKE_NO_RESPONSE:
        return "ike_no_response";
    case FINDING_IKE_IP_FRAGMENTED:
        return "ike_ip_fragmented";
    case FINDING_PPTP_GRE_BLOCKED:
        return "pptp_gre_blocked";
    case FINDING_PPTP_CALL_COLLISION:
        return "pptp_call_collision";
    case FINDING_ESP_ONE_WAY:
        return "esp_one_way";
    case FINDING_NAT_TRAVERSAL:
        return "nat_traversal";
    case FINDING_MTU_BLACKHOLE:
        return "mtu_blackhole";
    case FINDING_NAT_STATE_LOST:
        return "nat_state_lost";
    case FINDING_PPTP_NONSTANDARD_PORT:
        return "pptp_nonstandard_port";
    case FINDING_HANDSHAKE_NO_RESPONSE:
        return "handshake_no_response";
    case FINDING_TUNNEL_ONE_WAY:
        return "tunnel_one_way";
    default:
        return "unknown";
    }
}

const char *severity_name(unsigned sev)
{
    switch (sev) {
    case SEV_INFO:
        return "info";
    case SEV_WARNING:
        return "warning";
    case SEV_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

/* The default severity of each finding kind. */
enum severity finding_default_severity(unsigned kind)
{
    switch (kind) {
    case FINDING_ESP_COLLISION:
    case FINDING_AH_NAT:
    case FINDING_IKE_NO_RESPONSE:
    case FINDING_PPTP_GRE_BLOCKED:
    case FINDING_PPTP_CALL_COLLISION:
    case FINDING_MTU_BLACKHOLE:
    case FINDING_NAT_STATE_LOST:
    case FINDING_HANDSHAKE_NO_RESPONSE:
        return SEV_ERROR;
    case FINDING_STALE_NAT:
    case FINDING_FRAGMENT_REORDER:
    case FINDING_FRAGMENT_LOSS:
    case FINDING_NATT_NOT_USED:
    case FINDING_IKE_IP_FRAGMENTED:
    case FINDING_ESP_ONE_WAY:
    case FINDING_PPTP_NONSTANDARD_PORT:
    case FINDING_TUNNEL_ONE_WAY:
        return SEV_WARNING;
    case FINDING_NAT_TRAVERSAL:
    default:
        return SEV_INFO;
    }
}

const char *fs_role_name(unsigned role)
{
    switch (role) {
    case ROLE_CLIENT:
        return "client";
    case ROLE_SERVER:
        return "server";
    case ROLE_NAT:
        return "nat";
    default:
        return "unknown";
    }
}

struct finding *finding_add(struct finding_list *l, unsigned kind, uint64_t ts_us)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct finding *nv = realloc(l->v, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        l->v = nv;
        l->cap = ncap;
    }
    char *sum = calloc(1, FINDING_SUMMARY_SIZE), *rem = sum ? calloc(1, FINDING_REMEDY_SIZE) : NULL;
    if (!rem) {
        free(sum);
        return NULL;
    }
    struct finding *f = &l->v[l->n++];
    memset(f, 0, sizeof(*f));
    f->summary = sum;
    f->remedy = rem;
    f->kind = (uint8_t)kind;
    f->sev = (uint8_t)finding_default_severity(kind);
    f->ts_us = ts_us;
    return f;
}

/* Frees what finding f owns (evidence, frames, allocated sessions). */
static void finding_release(struct finding *f)
{
    free(f->summary);
    free(f->remedy);
    f->summary = f->remedy = NULL;
    free(f->sessions);
    f->sessions = NULL;
    f->n_sessions = f->sessions_cap = 0;
    free(f->more_sessions);
    f->more_sessions = NULL;
    f->n_more_sessions = f->more_sessions_cap = 0;
    for (unsigned i = 0; i < f->n_ev; i++)
        if (f->ev[i].type == EV_STR)
            free(f->ev[i].s);
    free(f->ev);
    f->ev = NULL;
    f->n_ev = f->ev_cap = 0;
    free(f->frames);
    free(f->frame_role);
    f->frames = NULL;
    f->frame_role = NULL;
    f->n_frames = f->frames_cap = 0;
}

void finding_free(struct finding *f)
{
    finding_release(f);
}

/* A copy of n elements of `size` bytes (NULL when n is 0 or out of memory: *ok false then). */
static void *dup_array(const void *src, size_t n, size_t size, bool *ok)
{
    if (!n || !src)
        return NULL;
    void *p = malloc(n * size);
    if (!p)
        *ok = false;
    else
        memcpy(p, src, n * size);
    return p;
}

bool finding_list_append(struct finding_list *dst, const struct finding_list *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct finding *s = &src->v[i];
        struct finding *f = finding_add(dst, s->kind, s->ts_us);
        if (!f)
            return false;
        char *sum = f->summary, *rem = f->remedy; /* (full size: the copy may be written) */
        *f = *s;
        f->summary = sum;
        f->remedy = rem;
        snprintf(sum, FINDING_SUMMARY_SIZE, "%s", s->summary ? s->summary : "");
        snprintf(rem, FINDING_REMEDY_SIZE, "%s", s->remedy ? s->remedy : "");
        bool ok = true;
        f->sessions = dup_array(s->sessions, s->n_sessions, sizeof(*f->sessions), &ok);
        f->sessions_cap = f->n_sessions;
        f->more_sessions =
            dup_array(s->more_sessions, s->n_more_sessions, sizeof(*f->more_sessions), &ok);
        f->more_sessions_cap = f->n_more_sessions;
        f->ev = dup_array(s->ev, s->n_ev, sizeof(*f->ev), &ok);
        f->ev_cap = f->n_ev;
        for (unsigned k = 0; k < f->n_ev; k++) {
            if (!f->ev || f->ev[k].type != EV_STR)
                continue;
            f->ev[k].s = strdup(s->ev[k].s);
            if (!f->ev[k].s) {
                f->ev[k].type = EV_INT; /* nothing to free */
                ok = false;
            }
        }
        f->frames = dup_array(s->frames, s->n_frames, sizeof(*f->frames), &ok);
        f->frame_role = dup_array(s->frame_role, s->n_frames, sizeof(*f->frame_role), &ok);
        f->frames_cap = f->n_frames;
        if (!ok) {
            finding_release(f);
            dst->n--;
            return false;
        }
    }
    return true;
}

bool finding_list_move(struct finding_list *dst, struct finding_list *src)
{
    bool ok = true;
    if (dst->n == 0) {
        /* take the array over (no copy), trimmed to its findings: a finding is ~5 KB and the
         * report of thousands of tunnels holds thousands of them */
        free(dst->v);
        *dst = *src;
        if (dst->n && dst->n < dst->cap) {
            struct finding *v = realloc(dst->v, dst->n * sizeof(*v));
            if (v) {
                dst->v = v;
                dst->cap = dst->n;
            }
        }
        memset(src, 0, sizeof(*src));
        return true;
    }
    if (dst->cap - dst->n < src->n) {
        size_t ncap = dst->n + src->n; /* exactly: no doubling slack */
        struct finding *v = realloc(dst->v, ncap * sizeof(*v));
        if (v) {
            dst->v = v;
            dst->cap = ncap;
        }
    }
    if (dst->cap - dst->n >= src->n) {
        /* the findings move with what they own (no copy of evidence, frames or sessions) */
        if (src->n) /* (src->v is NULL when src never held one) */
            memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
        dst->n += src->n;
        free(src->v);
        memset(src, 0, sizeof(*src));
        return true;
    }
    ok = finding_list_append(dst, src);
    finding_list_free(src);
    return ok;
}

/* Block p (of n or more elements of `size` bytes) cut to n elements: NULL when n is 0 (freed), p
 * itself when the smaller block cannot be had (it holds n elements either way). */
static void *shrunk(void *p, size_t n, size_t size)
{
    if (!n) {
        free(p);
        return NULL;
    }
    void *v = realloc(p, n * size);
    return v ? v : p;
}

void finding_list_trim(struct finding_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct finding *f = &l->v[i];
        if (f->summary)
            f->summary = shrunk(f->summary, strlen(f->summary) + 1, 1);
        if (f->remedy)
            f->remedy = shrunk(f->remedy, strlen(f->remedy) + 1, 1);
        /* each cap becomes the count: a block that could not shrink holds at least that */
        f->ev = shrunk(f->ev, f->n_ev, sizeof(*f->ev));
        f->ev_cap = f->n_ev;
        f->sessions = shrunk(f->sessions, f->n_sessions, sizeof(*f->sessions));
        f->sessions_cap = f->n_sessions;
        f->frames = shrunk(f->frames, f->n_frames, sizeof(*f->frames));
        f->frame_role = shrunk(f->frame_role, f->n_frames, sizeof(*f->frame_role));
        f->frames_cap = f->n_frames;
        f->more_sessions = shrunk(f->more_sessions, f->n_more_sessions, sizeof(*f->more_sessions));
        f->more_sessions_cap = f->n_more_sessions;
    }
    l->v = shrunk(l->v, l->n, sizeof(*l->v));
    l->cap = l->n;
}

void finding_list_free(struct finding_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        finding_release(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Room for one more of the n elements of `size` bytes at *v (*cap allocated, grown by doubling
 * from first, at most max): false at max or out of memory. */
static bool grow_for_one(void **v, uint8_t n, uint8_t *cap, size_t size, unsigned first,
                         unsigned max)
{
    if (n >= max)
        return false;
    if (n < *cap)
        return true;
    unsigned nc = *cap ? *cap * 2u : first;
    if (nc > max)
        nc = max;
    void *nv = realloc(*v, nc * size);
    if (!nv)
        return false;
    *v = nv;
    *cap = (uint8_t)nc;
    return true;
}

/* The evidence slot for key, cleared and typed: the existing one (a key appears once), else a new
 * one, else NULL. */
static struct finding_ev *ev_slot(struct finding *f, const char *key, uint8_t type)
{
    struct finding_ev *e = NULL;
    for (unsigned i = 0; i < f->n_ev; i++) {
        if (strcmp(f->ev[i].key, key) == 0) {
            e = &f->ev[i];
            break;
        }
    }
    if (e && e->type == EV_STR)
        free(e->s);
    if (!e) {
        void *v = f->ev;
        bool room = grow_for_one(&v, f->n_ev, &f->ev_cap, sizeof(*f->ev), 4, FINDING_MAX_EV);
        f->ev = v;
        if (!room)
            return NULL;
        e = &f->ev[f->n_ev++];
    }
    memset(e, 0, sizeof(*e));
    e->key = key;
    e->type = type;
    return e;
}

void finding_ev_int(struct finding *f, const char *key, int64_t v)
{
    struct finding_ev *e = ev_slot(f, key, EV_INT);
    if (e)
        e->i = v;
}

void finding_ev_str(struct finding *f, const char *key, const char *v)
{
    char *s = strndup(v ? v : "", FINDING_EV_STR_MAX);
    struct finding_ev *e = s ? ev_slot(f, key, EV_STR) : NULL;
    if (e)
        e->s = s;
    else
        free(s); /* out of memory or no room: left out */
}

void finding_ev_ts(struct finding *f, const char *key, uint64_t ts_us)
{
    struct finding_ev *e = ev_slot(f, key, EV_TS);
    if (e)
        e->i = (int64_t)ts_us;
}

void finding_ev_seconds(struct finding *f, const char *key, double secs)
{
    struct finding_ev *e = ev_slot(f, key, EV_SECONDS);
    if (e)
        e->d = secs;
}

void finding_ev_bool(struct finding *f, const char *key, bool v)
{
    struct finding_ev *e = ev_slot(f, key, EV_BOOL);
    if (e)
        e->i = v ? 1 : 0;
}

void finding_frame_role(struct finding *f, uint8_t capture, uint64_t frame, const char *role)
{
    if (!frame)
        return; /* frame numbers start at 1: 0 is "none" */
    for (unsigned i = 0; i < f->n_frames && i < FINDING_MAX_FRAMES; i++)
        if (f->frames[i].capture == capture && f->frames[i].frame == frame) {
            if (!f->frame_role[i])
                f->frame_role[i] = role;
            return;
        }
    if (f->frames_total < UINT32_MAX)
        f->frames_total++;
    if (f->n_frames >= FINDING_MAX_FRAMES)
        return; /* counted in frames_total, reported as left out */
    if (f->n_frames >= f->frames_cap) {
        unsigned nc = f->frames_cap ? f->frames_cap * 2u : 8u;
        if (nc > FINDING_MAX_FRAMES)
            nc = FINDING_MAX_FRAMES;
        struct frame_ref *v = realloc(f->frames, nc * sizeof(*v));
        if (v)
            f->frames = v;
        const char **r = v ? realloc(f->frame_role, nc * sizeof(*r)) : NULL;
        if (!r)
            return; /* out of memory: counted in frames_total, reported as left out */
        f->frame_role = r;
        f->frames_cap = (uint8_t)nc;
    }
    f->frames[f->n_frames].capture = capture;
    f->frames[f->n_frames].frame = frame;
    f->frame_role[f->n_frames] = role;
    f->n_frames++;
}

void finding_frame(struct finding *f, uint8_t capture, uint64_t frame)
{
    finding_frame_role(f, capture, frame, NULL);
}

const char *finding_frame_role_name(const struct finding *f, unsigned i)
{
    if (i < f->n_frames && i < FINDING_MAX_FRAMES && f->frame_role[i])
        return f->frame_role[i];
    return "evidence";
}

static const struct finding_session *client_of(const struct finding *f)
{
    for (unsigned i = 0; i < f->n_sessions && i < FINDING_MAX_SESSIONS; i++)
        if (f->sessions[i].role == ROLE_CLIENT)
            return &f->sessions[i];
    return NULL;
}

static const char *ev_str(const struct finding *f, const char *key)
{
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++)
        if (f->ev[i].type == EV_STR && strcmp(f->ev[i].key, key) == 0)
            return f->ev[i].s;
    return "";
}

/* Whether b repeats a's cause (see finding_list_group). */
static bool same_cause(const struct finding *a, const struct finding *b)
{
    if (a->kind != b->kind || a->kind != FINDING_ESP_ONE_WAY || a->sev != b->sev ||
        a->confirmed != b->confirmed)
        return false;
    const struct finding_session *ca = client_of(a), *cb = client_of(b);
    return ca && cb && ip_addr_eq(&ca->ip, &cb->ip) &&
           strcmp(ev_str(a, "encap"), ev_str(b, "encap")) == 0;
}

/* A new inline session of f (grown 2, 4, 8, FINDING_MAX_SESSIONS), not cleared; NULL when f has
 * FINDING_MAX_SESSIONS or out of memory. */
static struct finding_session *session_slot(struct finding *f)
{
    void *v = f->sessions;
    bool room = grow_for_one(&v, f->n_sessions, &f->sessions_cap, sizeof(*f->sessions), 2,
                             FINDING_MAX_SESSIONS);
    f->sessions = v;
    return room ? &f->sessions[f->n_sessions++] : NULL;
}

static void fold_into(struct finding *g, const struct finding *f)
{
    g->group_count++;
    if (f->ts_us < g->ts_us)
        g->ts_us = f->ts_us;
    for (unsigned i = 0; i < f->n_sessions && i < FINDING_MAX_SESSIONS; i++) {
        bool dup = false;
        for (unsigned k = 0; k < g->n_sessions && !dup; k++)
            dup = memcmp(&g->sessions[k], &f->sessions[i], sizeof(f->sessions[i])) == 0;
        struct finding_session *s = dup ? NULL : session_slot(g);
        if (s)
            *s = f->sessions[i];
    }
    uint32_t listed = 0;
    for (unsigned i = 0; i < f->n_frames && i < FINDING_MAX_FRAMES; i++, listed++)
        finding_frame_role(g, f->frames[i].capture, f->frames[i].frame, f->frame_role[i]);
    /* frames f had beyond its list count as left out of g too */
    if (f->frames_total > listed && g->frames_total <= UINT32_MAX - (f->frames_total - listed))
        g->frames_total += f->frames_total - listed;
}

size_t finding_list_group(struct finding_list *l)
{
    size_t o = 0, folded = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t g = 0;
        while (g < o && !same_cause(&l->v[g], &l->v[i]))
            g++;
        if (g < o) {
            fold_into(&l->v[g], &l->v[i]);
            finding_release(&l->v[i]);
            folded++;
        } else {
            l->v[o++] = l->v[i];
        }
    }
    l->n = o;
    for (size_t i = 0; i < l->n; i++) {
        struct finding *f = &l->v[i];
        if (!f->group_count || f->kind != FINDING_ESP_ONE_WAY)
            continue; /* other kinds are grouped by their detector, with their own sentence */
        /* the summary may be trimmed to its text: written at full size, then trimmed again */
        char *sum = f->summary ? realloc(f->summary, FINDING_SUMMARY_SIZE) : NULL;
        if (!sum)
            continue; /* out of memory: the summary stays as it was */
        f->summary = sum;
        size_t len = strnlen(sum, FINDING_SUMMARY_SIZE - 1);
        sum[len] = '\0';
        snprintf(sum + len, FINDING_SUMMARY_SIZE - len,
                 " The same sender has %u more one-way ESP SA(s) like this one (%u findings in "
                 "one; sessions and frames of all below%s).",
                 (unsigned)f->group_count, (unsigned)f->group_count + 1,
                 f->n_sessions >= FINDING_MAX_SESSIONS ? ", sessions capped" : "");
    }
    if (folded)
        finding_list_trim(l);
    return folded;
}

size_t finding_list_min_severity(struct finding_list *l, unsigned min_sev)
{
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].sev >= min_sev)
            l->v[o++] = l->v[i];
        else
            finding_release(&l->v[i]);
    }
    size_t dropped = l->n - o;
    l->n = o;
    return dropped;
}

struct finding_session *finding_session_add(struct finding *f, unsigned role,
                                            const struct ip_addr *ip)
{
    struct finding_session *s = session_slot(f);
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->role = (uint8_t)role;
    if (ip)
        s->ip = *ip;
    return s;
}

/* Sorting: an index array is sorted (ties broken by the original position, so the result is the
 * same with any qsort), then the findings are permuted into place. */
struct fsort {
    const struct finding *f;
    size_t pos;
};

static int cmp_ts_kind(const struct finding *a, const struct finding *b)
{
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return 0;
}

static int cmp_by_ts(const void *pa, const void *pb)
{
    const struct fsort *a = pa, *b = pb;
    int c = cmp_ts_kind(a->f, b->f);
    if (c)
        return c;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static int cmp_by_sev(const void *pa, const void *pb)
{
    const struct fsort *a = pa, *b = pb;
    if (a->f->sev != b->f->sev)
        return a->f->sev > b->f->sev ? -1 : 1;
    return cmp_by_ts(pa, pb);
}

static void sort_with(struct finding_list *l, int (*cmp)(const void *, const void *))
{
    if (l->n < 2)
        return;
    struct fsort *ix = malloc(l->n * sizeof(*ix));
    struct finding *tmp = malloc(l->n * sizeof(*tmp));
    if (!ix || !tmp)
        goto out;
    for (size_t i = 0; i < l->n; i++) {
        ix[i].f = &l->v[i];
        ix[i].pos = i;
    }
    qsort(ix, l->n, sizeof(*ix), cmp);
    for (size_t i = 0; i < l->n; i++)
        tmp[i] = *ix[i].f;
    memcpy(l->v, tmp, l->n * sizeof(*tmp));
out:
    free(tmp);
    free(ix);
}

void finding_list_sort_severity(struct finding_list *l)
{
    sort_with(l, cmp_by_sev);
}

void finding_list_sort_ts(struct finding_list *l)
{
    sort_with(l, cmp_by_ts);
}

enum severity finding_list_max_severity(const struct finding_list *l)
{
    enum severity m = SEV_INFO;
    for (size_t i = 0; l && i < l->n; i++)
        if (l->v[i].sev > m && l->v[i].sev <= SEV_ERROR)
            m = (enum severity)l->v[i].sev;
    return m;
}

uint32_t finding_n_sessions(const struct finding *f)
{
    uint32_t n = f->n_sessions < FINDING_MAX_SESSIONS ? f->n_sessions : FINDING_MAX_SESSIONS;
    return n + f->n_more_sessions;
}

const struct finding_session *finding_session_at(const struct finding *f, uint32_t i)
{
    uint32_t n = f->n_sessions < FINDING_MAX_SESSIONS ? f->n_sessions : FINDING_MAX_SESSIONS;
    if (i < n)
        return &f->sessions[i];
    i -= n;
    return i < f->n_more_sessions ? &f->more_sessions[i] : NULL;
}

struct finding_session *finding_session_add_more(struct finding *f, unsigned role,
                                                 const struct ip_addr *ip)
{
    if (f->n_sessions < FINDING_MAX_SESSIONS)
        return finding_session_add(f, role, ip);
    if (f->n_more_sessions == f->more_sessions_cap) {
        if (f->more_sessions_cap > UINT32_MAX / 2)
            return NULL;
        uint32_t ncap = f->more_sessions_cap ? f->more_sessions_cap * 2 : 16;
        struct finding_session *v = realloc(f->more_sessions, ncap * sizeof(*v));
        if (!v)
            return NULL;
        f->more_sessions = v;
        f->more_sessions_cap = ncap;
    }
    struct finding_session *s = &f->more_sessions[f->n_more_sessions++];
    memset(s, 0, sizeof(*s));
    s->role = (uint8_t)role;
    if (ip)
        s->ip = *ip;
    return s;
}
