/* engine.h - one capture point's pipeline: decode -> fragments -> session model -> nDPI. */
#ifndef VPNSCOPE_ENGINE_H
#define VPNSCOPE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/capture.h"
#include "vpnscope/pkt.h"
#include "vpnscope/session.h"

struct engine_opts {
    bool no_ndpi;       /* skip nDPI classification (tests, fuzzing speed) */
    bool all_protocols; /* nDPI with every protocol (--all-flows), else VPN-relevant ones only */
    /* an nDPI module made by the caller with the same all_protocols (--batch: made once before
     * the children fork, each child using its own copy); NULL: the engine makes and frees its own
     */
    struct classifier *classifier;
    uint32_t flow_max;    /* 5-tuple flows tracked (0: FLOW_MAX) */
    uint8_t tables_share; /* capture points whose session tables share the caps (0, 1: one) */
};

struct engine;

/* A new engine for capture side `side` (SIDE_SINGLE/INSIDE/OUTSIDE). NULL on error (errbuf). */
struct engine *engine_new(uint8_t side, const struct engine_opts *o, char *errbuf, unsigned errlen);

/*
 * Processes one raw frame: every frame is counted in exactly one summary bucket. Filtered frames
 * (raw->filtered) are only counted. Returns the decoded packet (valid until the next call; for a
 * fragment that completed a datagram, its L4/VPN fields describe the reassembled datagram and
 * p->reassembled is set), or NULL for a filtered frame.
 */
const struct pkt *engine_packet(struct engine *e, const struct raw_pkt *raw);

/* Advances time without a packet (live idle links): expires fragments. */
void engine_tick(struct engine *e, uint64_t now_us);

/* End of input: expires what is left, gives up nDPI on unclassified flows, infers the side. */
void engine_finish(struct engine *e);

/* After engine_finish, when no packet follows (a report): frees the engine's own nDPI module and
 * states now, on the caller's thread, instead of in engine_free (labels are kept: they are
 * copies). Later packets would go unclassified. */
void engine_drop_classifier(struct engine *e);

struct session_model *engine_model(struct engine *e);
const struct session_model *engine_model_const(const struct engine *e);

/* Approximate bytes held by the engine's tables (for the memory benchmark / UI). */
uint64_t engine_bytes(const struct engine *e);

void engine_free(struct engine *e);

#endif
