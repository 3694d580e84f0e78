/* pipeline_int.h - private interfaces of the pipeline (src/core/): the state, the clock pass of
 * two captures (clock.c), the --router interface split (router_split.c), sources and pacing
 * (source.c), detection and the NAT result (analysis.c). */
#ifndef VPNSCOPE_PIPELINE_INT_H
#define VPNSCOPE_PIPELINE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/capture.h"
#include "vpnscope/clockstep.h"
#include "vpnscope/config.h"
#include "vpnscope/engine.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/pipeline.h"

struct router_split;

/* The progress line of long runs on a terminal (progress.c). */
struct progress {
    bool on, shown;
    double start, first, next; /* monotonic seconds: started, first line due, next line due */
    const char *phase;         /* of the last line (a new phase is shown at once) */
};
void progress_init(struct progress *g, bool on);
/* Prints the line when due: done of total bytes (total 0: unknown), packets read. */
void progress_show(struct progress *g, const char *phase, uint64_t done, uint64_t total,
                   uint64_t packets);
/* Clears the line when one was shown. */
void progress_end(struct progress *g);

struct pipeline {
    const struct vpnscope_config *cfg;
    int n;    /* capture points = engines: 1, or 2 ([0] single/inside, [1] outside) */
    int nsrc; /* sources: 1 (files, one interface, --router) or 2 */
    bool live, two, router;
    bool paced; /* dashboard replay: paced by cfg->speed, replay controls */
    struct cap_src *src[2];
    struct engine *eng[2];
    char name[2][128];               /* file or interface per capture point */
    const char *const *captures[2];  /* report: file names per capture point */
    const char *ifnames[2][2];       /* live: interface names as NULL-terminated lists */
    const char *router_list[2];      /* --router: the file as a NULL-terminated list */
    struct router_split *split;      /* --router: inside/outside of each packet */
    struct pkt *scratch;             /* --router: bare decode for the split */
    struct nat_corr *corr;           /* two capture points (NULL when no clock was found) */
    struct nat_clock clk;            /* two files: outside clock -> inside clock */
    struct nat_result nat;           /* two points: mappings so far, final after finish */
    char warn[VPNSCOPE_ERRBUF_SIZE]; /* two files: first cut-off warning of the clock pass */
    struct finding_list fl;          /* the latest detection */
    uint64_t nside[2];               /* --router: frames per side */
    struct raw_pkt pend[2];          /* next packet of each source, read but not yet fed */
    uint64_t pend_ts[2];             /* its time in its own capture (-w) */
    bool have[2], done[2];
    long fed[2]; /* packets fed per source (-c) */
    /* replay pacing */
    bool based;
    uint64_t base_ts;
    double base_wall;
    bool paused;
    long step_pkts;      /* packets to feed while paused */
    uint64_t step_until; /* feed while paused up to this packet time, 0 = none */
    /* time and counters */
    uint64_t now_us, last_ts, first_ts;
    double last_wall;
    uint64_t packets, bytes, drops;
    bool ended, finished, failed;
    int interrupted; /* saved files: the signal that stopped the reading (pipeline_interrupt) */
    const volatile sig_atomic_t *stop; /* batch: set by a signal handler (pipeline_stop_flag) */
    char msg[512];
    struct pipeline_snapshot snap;
    struct dump *dump[2];       /* -w: every packet (live) or those that pass the filter (files) */
    struct progress prog;       /* report runs on a terminal (cfg->no_progress off) */
    struct clock_steps cs[2];   /* clock steps per source (two files: found by the clock pass) */
    struct pieces_watch *pw[2]; /* several files per source: overlaps, repeats, NAT sides */
    /* live -w files as evidence inputs (pipeline_evidence_inputs) */
    char wpath[2][4096];
    const char *wlist[2][2];
    int threads;           /* --threads, resolved (>= 1) */
    struct sides *sides;   /* two files on two threads (sides.c), NULL: one thread */
    bool clock_cut[2];     /* two files: the capture is longer than the clock pass's prefix */
    uint64_t side_last[2]; /* two files: newest frame time read per capture (inside clock) */
    /* two files on two threads (report runs): each side thread makes its engine before its first
     * frame and finishes it after its last (engine_open, pipeline_finish makes or finishes what a
     * stopped thread did not) */
    struct engine_opts eo;
    bool eng_late;
    bool eng_finished[2];
};

/* Makes the engine of capture point i (p->eng[i]) with p->eo; -1 out of memory (err). */
int engine_open(struct pipeline *p, int i, char *err, unsigned errlen);

/* A frame of capture point e that repeats one of an earlier piece: counted, not analysed
 * (source.c; sides.c on the side's thread). */
void count_duplicate(struct pipeline *p, int e, const struct raw_pkt *r);

/* Two files, capture i has ended: a capture longer than the clock prefix gives the correlator
 * its last time now (nat_corr_cover). */
void clock_side_ended(struct pipeline *p, int i);

/* Bare decode of one raw frame (no engine, no reassembly): the first passes. */
void bare_decode(struct pkt *p, const struct raw_pkt *r);

/* Opens capture files and checks the link type (error: "FILE: unsupported link type N"). */
struct cap_src *open_side(const char *const *paths, int n, const char *bpf, char *errbuf,
                          unsigned errlen);

/* "path" or "path (+N)" for n pieces. */
const char *pieces_label(const char *const *paths, int n, char *buf, unsigned size);

/* Two files: the clock pass (NAT-invariant signatures, bare decode). Swaps the inside and outside
 * lists when the vote says they were given the wrong way round, fills p->clk and p->nat (clock,
 * swapped, message, packets per capture) and creates p->corr when a clock was found. 0, or -1 with
 * err. */
int clock_pass(struct pipeline *p, const char *const **pin, int *nin, const char *const **pout,
               int *nout, char *err, unsigned errlen);

/* Two files after the input ended: the messages of the final NAT result. */
void clock_final_message(struct pipeline *p);

/* --router: learns the split (first reads) and creates p->split and p->corr. 0, or -1 with err. */
int router_split_open(struct pipeline *p, char *err, unsigned errlen);
/* The capture point (0 inside, 1 outside) of a raw frame. */
int router_split_side(struct pipeline *p, const struct raw_pkt *r);
/* Whether the router's packets go to the correlator (a split was possible). */
bool router_split_correlates(const struct pipeline *p);

/* --router after the input: true when both sides had packets and none matched (the split proves
 * no NAT); appends the reason to p->nat.message. The report then never says "No problems found"
 * and the exit status is 2 unless findings were raised. */
bool router_split_unproven(struct pipeline *p);
void router_split_free(struct router_split *sp);

/* Sources (source.c). */
int sources_open(struct pipeline *p, char *err, unsigned errlen);
long sources_step(struct pipeline *p, double budget_ms, int *wait_ms);

/* -w (dump.c): the capture layer's checked writer with -C/-G/-W rotation. */
struct dump *dump_open(const struct vpnscope_config *cfg, const char *path,
                       const struct cap_src *src, char *err, unsigned errlen);
/* 0 written, 1 the -G/-W file limit is reached (stop), -1 failed (err). */
int dump_packet(struct dump *d, const struct raw_pkt *r, char *err, unsigned errlen);
/* Live: what was written reaches the file (called when the kernel has nothing more for now).
 * 0, or -1 (err). */
int dump_flush(struct dump *d, char *err, unsigned errlen);
/* The first frame written since the last flush (what a failed write may have lost), 0: none. */
uint64_t dump_unflushed(const struct dump *d);
/* Flushes and closes: 0, or -1 (err). */
int dump_close(struct dump *d, char *err, unsigned errlen);

/* Drops root to user (NULL: "nobody" when it exists; nothing when not root). 0, or -1 with err. */
int drop_privileges(const char *user, char *err, unsigned errlen);

/* What the report sinks read of the final result. */
struct report_input;
void pipeline_report_input(const struct pipeline *p, struct report_input *ri);
/* The summary only (the end of a live stream); the exit status as pipeline_report. */
int pipeline_report_summary(struct pipeline *p, FILE *out);

/* Two capture files on a thread each (sides.c). sides_wanted: this run can use them;
 * sides_step: feeds for budget_ms (< 0: to the end), as sources_step; sides_stop: the threads
 * stopped and joined (before the engines are finished or freed); sides_bytes: bytes read of
 * capture i so far (*total: of the pieces opened so far). */
bool sides_wanted(const struct pipeline *p);
long sides_step(struct pipeline *p, double budget_ms);
void sides_stop(struct pipeline *p);
void sides_free(struct pipeline *p);
uint64_t sides_bytes(const struct pipeline *p, int i, uint64_t *total);

/* Detection over the models so far (analysis.c). */
void analysis_run(struct pipeline *p);

/* Several saved files of one capture point (pieces.c). NULL when the source has one file. */
struct pieces_watch;
struct capture_pieces;
struct pieces_watch *pieces_watch_new(const struct cap_src *s, const char *const *files);
/* Whether raw frame r (not filtered) repeats a packet of another file read shortly before (then
 * it is not analysed); notes the file's time span for every frame. */
bool pieces_watch_repeat(struct pieces_watch *w, const struct raw_pkt *r);
/* A decoded packet of file `piece`, for the NAT-sides sample. */
void pieces_watch_packet(struct pieces_watch *w, int piece, const struct pkt *p);
/* After the input: overlaps, repeats and the NAT hint (warnings on stderr unless quiet). */
const struct capture_pieces *pieces_watch_finish(struct pieces_watch *w, bool quiet);
/* The result so far (files and frame bases; overlaps once finished); NULL for NULL. */
const struct capture_pieces *pieces_watch_result(const struct pieces_watch *w);
void pieces_watch_free(struct pieces_watch *w);

#endif
