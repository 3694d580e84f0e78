/* ui_int.h - private interfaces of src/ui/: the snapshot the views draw (model.c), views
 * (view_*.c) and the main loop (app.c). The pipeline (src/core/) feeds the packets. */
#ifndef VPNSCOPE_UI_INT_H
#define VPNSCOPE_UI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/capture.h"
#include "vpnscope/detect.h"
#include "vpnscope/engine.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"
#include "vpnscope/pipeline.h"
#include "vpnscope/report.h"
#include "vpnscope/ui.h"

/* ---- the snapshot the views draw (model.c) ---- */

enum ui_color { UI_NORMAL = 0, UI_OK, UI_WARN, UI_ALERT, UI_DIM, UI_HEAD, UI_SEL, UI__COLORS };

enum ui_kind {
    UK_IKE = 0,
    UK_ESP,
    UK_AH,
    UK_PPTP,
    UK_GRE,
    UK_L2TP,
    UK_FLOW,
    UK_WG,
    UK_OVPN,
    UK__COUNT
};

#define UI_MAX_TUNNELS 4096
#define UI_MAX_NAT 4096
#define UI_MAX_FINDINGS 512
#define UI_MAX_CHILD 8
#define UI_SPARK_COLS 64 /* activity columns per tunnel and direction (spark.c) */

struct ui_tunnel {
    uint64_t id;   /* stable across snapshots (hash of the session key) */
    uint8_t kind;  /* enum ui_kind */
    uint8_t side;  /* enum cap_side of the record */
    uint8_t color; /* enum ui_color of the state */
    char proto[32];
    char client[64];     /* inside identity (or the only one) */
    char client_out[64]; /* outside identity when known */
    char server[64];
    char ids[160]; /* SPIs / call ids */
    char state[16];
    uint64_t pkts[2], bytes[2]; /* [0] client -> server, [1] back */
    double rate[2];             /* packets/s each way over the last snapshot period */
    uint64_t first_ts, last_ts;
    uint32_t timeout_s; /* NAT timeout that applies */
    uint8_t max_sev;    /* of findings naming the client (when nfind) */
    uint8_t nfind;
    /* detail */
    struct activity act;
    uint64_t retrans, rekeys, dpd, seq_gaps, replays;
    int64_t router_lost[2]; /* packets that did not cross the router each way (-1 unknown) */
    uint8_t nchild;
    char child[UI_MAX_CHILD][112];
    char exch[200];
    char natd[96];
    uint32_t spk[2][UI_SPARK_COLS]; /* packets per column of the model's spark range, each way */
};

struct ui_natrow {
    uint64_t id;
    uint8_t color;
    char proto[8];
    char inside[64], outside[64], peer[64];
    bool translated;
    uint64_t tp_in, tp_out, fp_out, fp_in;
    uint64_t first_ts, last_ts;
    uint32_t timeout_s;
    char evidence[128];
};

/* What a finding of the model leads to: its position in the pipeline's finding list (the NNN of
 * --export files), the tunnel row it names first and how many rows it names. */
struct ui_findref {
    size_t pos;
    uint64_t tun_id; /* 0: no row */
    unsigned n_tun;
};

struct ui_prev { /* counters of the previous snapshot (rates) */
    uint64_t id;
    uint64_t pkts[2];
};

struct ui_model {
    char sources[300];
    char status[600]; /* replay state / end message */
    bool live, two, ended, paused, failed;
    double speed;
    uint64_t now_us, first_ts;
    uint64_t packets, bytes;
    double pps, bps;
    uint64_t drops;
    uint64_t mem;
    uint64_t nfind[3];             /* by severity */
    unsigned n_by_kind[UK__COUNT]; /* tunnels by enum ui_kind */
    size_t n_tun, n_nat, n_find;
    size_t tun_total; /* before the UI_MAX_TUNNELS cap */
    struct ui_tunnel *tun;
    struct ui_natrow *nat;
    struct finding *find;    /* most severe first */
    struct ui_findref *fref; /* [n_find] */
    uint64_t spk_lo, spk_hi; /* time range of the sparklines */
    /* rates */
    struct ui_prev *prev;
    size_t n_prev;
    uint64_t prev_now, prev_packets, prev_bytes;
    double prev_wall;
};

/* Copies what the views show from the pipeline snapshot. */
void ui_model_update(struct ui_model *m, const struct pipeline_snapshot *f);
void ui_model_free(struct ui_model *m);

/* The sparklines' time range from the snapshot (before the rows are built). */
void ui_spark_range(struct ui_model *m, const struct pipeline_snapshot *f);
/* Adds the packets of the record with buckets s, first and last packet at first_ts, last_ts, to
 * row t; flip: the record's forward direction is the row's direction back. */
void ui_spark_add(const struct ui_model *m, struct ui_tunnel *t, const struct spark *s,
                  uint64_t first_ts, uint64_t last_ts, bool flip);
/* Direction dir of row t as width characters (UTF-8 blocks or ASCII levels) into buf. */
void ui_spark_render(const struct ui_tunnel *t, int dir, int width, bool utf8, char *buf,
                     size_t size);

/* ---- view state, sorting and filtering (app.c owns it; views read it) ---- */

enum ui_view { VIEW_TUNNELS = 0, VIEW_NAT, VIEW_FINDINGS, VIEW_DETAIL, VIEW__COUNT };

enum {
    SORT_LAST = 0,
    SORT_CLIENT,
    SORT_SERVER,
    SORT_PROTO,
    SORT_PKTS,
    SORT_RATE,
    SORT_IDLE,
    SORT__COUNT
};

struct ui_state {
    int view;      /* enum ui_view */
    int prev_view; /* where Esc goes back to */
    bool help;
    bool frozen;       /* live: p freezes the view, capture goes on */
    bool finding_open; /* findings: Enter opened the selected finding */
    int sel[VIEW__COUNT], top[VIEW__COUNT];
    int sort[VIEW__COUNT];
    bool sort_desc[VIEW__COUNT];
    uint64_t detail_id; /* the tunnel of the detail view */
    char filter[64];
    char search[64];
    int input; /* 0 none, '/' search, 'f' filter: typing at the bottom line */
    char inbuf[64];
    char flash[128]; /* one-line message at the bottom */
    bool mono;
    /* the visible order (indexes into the model), rebuilt after each update / key */
    size_t *order;
    size_t n_order, cap_order;
    /* the open finding: first line shown, lines per page (set by its drawing) */
    int find_scroll, find_page;
    bool utf8;      /* the terminal character set is UTF-8 (sparklines in block elements) */
    bool jumped;    /* the tunnels view was reached from a finding with t: Esc / t go back */
    bool jump_open; /* the finding was open then */
};

/* Case-insensitive substring (strcasestr is a GNU extension). */
bool ui_ci_has(const char *hay, const char *needle);

/* Sort column names of a view (NULL past the last). */
const char *ui_sort_name(int view, int col);
int ui_sort_count(int view);

/* Rebuilds st->order for the current view: filter, then sort. */
void ui_order(struct ui_state *st, const struct ui_model *m);

/* Whether row i of the view matches text (case-insensitive substring over its columns). */
bool ui_row_matches(const struct ui_model *m, int view, size_t i, const char *text);

/* ---- what a finding leads to (actions.c) ---- */

/* t in the Findings view: the Tunnels view with the row the selected finding names first
 * selected (the filter cleared when it hides it); st->flash says how many rows it names. */
bool ui_jump_tunnel(struct ui_state *st, const struct ui_model *m);
/* Esc / t after a jump: back to the finding (open again when it was). */
void ui_jump_back(struct ui_state *st, const struct ui_model *m);
/* x in the Findings view: the selected finding's packets into --export DIR (default
 * ./vpnscope-export-<capture name>); st->flash says where or why not. */
void ui_export_finding(struct ui_state *st, const struct ui_model *m, struct pipeline *p);

/* ---- drawing (view_*.c): the only code that calls curses ---- */

/* curses attribute of a semantic colour. */
int ui_attr(const struct ui_state *st, int color);
void ui_colors_init(struct ui_state *st);

/* Formatting helpers shared by the views. */
char *ui_fmt_count(uint64_t v, char *buf, size_t n); /* 1234567 -> "1.2M" */
char *ui_fmt_rate(double v, char *buf, size_t n);
char *ui_fmt_age(uint64_t us, char *buf, size_t n);     /* "3s", "2m05s", "1h02m" */
char *ui_fmt_time(uint64_t ts_us, char *buf, size_t n); /* "HH:MM:SS" UTC */
void ui_idle_bar(char *buf, int width, uint64_t idle_us, uint32_t timeout_s);

/* Each returns the number of data rows the view can show (for paging). WINDOW is stdscr. */
void view_header_draw(const struct ui_model *m, const struct ui_state *st, int cols);
int view_tunnels_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols);
int view_nat_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols);
int view_findings_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols);
int view_detail_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols);
/* The open finding f, wrapped and scrolled by st->find_scroll (clamped here). */
void view_finding_draw(const struct finding *f, struct ui_state *st, int y0, int rows, int cols);
void view_help_draw(const struct ui_state *st, int rows, int cols);
void view_footer_draw(const struct ui_model *m, const struct ui_state *st, int y, int cols);

/* Rows of the header (fixed). */
#define UI_HEADER_ROWS 4

#endif
