/* pipeline.h - the command line parsed once (struct vpnscope_config) and the one pipeline every
 * mode runs through: sources (files, pieces, --inside/--outside, --router split, live interfaces)
 * -> one engine per capture point -> clock estimation and NAT correlation -> detection -> sinks
 * (text/JSON report, live stream, dashboard snapshot, -w dump). src/core/. */
#ifndef VPNSCOPE_PIPELINE_H
#define VPNSCOPE_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/detect.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/session.h"

#define VPNSCOPE_MAX_FILES 64

/* ---- configuration (src/core/config.c) ---- */

enum cfg_action { CFG_RUN = 0, CFG_HELP, CFG_VERSION, CFG_LIST_IFACES };
enum cfg_mode { MODE_BATCH = 0, MODE_DASHBOARD, MODE_STREAM };

struct vpnscope_config {
    int action; /* enum cfg_action */
    int mode;   /* enum cfg_mode (action CFG_RUN) */
    /* sources: exactly one of files, inside+outside, router, iface, inside_if+outside_if */
    const char *files[VPNSCOPE_MAX_FILES + 1]; /* -r pieces, NULL-terminated */
    const char *inside[VPNSCOPE_MAX_FILES + 1];
    const char *outside[VPNSCOPE_MAX_FILES + 1];
    int nfiles, ninside, noutside;
    const char *router;
    const char *iface, *inside_if, *outside_if;
    char *bpf; /* the trailing BPF words joined, or NULL */
    bool live; /* -i or --inside-if/--outside-if */
    /* output */
    bool json, all_flows, no_ndpi, no_progress;
    uint8_t side; /* --side (SIDE_INSIDE/OUTSIDE) when side_given */
    bool side_given;
    struct ip_addr nat_addrs[8];
    int n_nat_addrs;
    double speed;           /* replay: 1 = capture speed, 0 = as fast as possible */
    uint32_t refresh_ms;    /* dashboard redraw period */
    long max_frames;        /* dashboard: end after N redraws (smoke tests), -1 = never */
    long count;             /* -c: packets per input, -1 = all */
    const char *write_path; /* -w FILE (one capture point) or PREFIX (two) */
    const char *drop_user;  /* -Z (live only; NULL: "nobody" as root when it exists) */
    uint32_t buffer_kib;    /* -B: live capture's kernel buffer in KiB, 0 = CAP_LIVE_BUFFER_KIB */
    struct nat_timeouts to;
    /* evidence (doc/vpnscope.1): --export DIR, --html FILE, --min-severity */
    const char *export_dir; /* one pcapng per finding + index.jsonl, NULL: none */
    const char *html_path;  /* self-contained HTML report, NULL: none */
    uint8_t min_severity;   /* enum severity: findings below it are not reported */
    /* --batch PATH...: each capture analysed on its own, -j at a time */
    bool batch;
    const char **batch_paths; /* files and directories, in the order given (config_free) */
    int nbatch;
    int jobs;                /* -j N, 0 = the number of online processors */
    const char *record_file; /* "file" of every JSON record (--batch), NULL: none */
    /* -w rotation as tcpdump: -C (bytes; the option is in units of 1,000,000), -G, -W */
    uint64_t rotate_bytes;
    uint32_t rotate_secs, max_files;
    struct classifier *classifier; /* an nDPI module for the engines (engine_opts), NULL: own */
    int threads;                   /* --threads N (1..64); 0 = the number of online cores */
};

/* Defaults of every option, no input (programs that build a configuration without argv). */
void config_defaults(struct vpnscope_config *c);

/* Parses argv into c and validates it. Returns 0 (c->action says what to do), or 2 after
 * printing the usage error on stderr. c->bpf is freed by config_free. */
int config_parse(struct vpnscope_config *c, int argc, char **argv);
void config_free(struct vpnscope_config *c);
void config_usage(FILE *out);

/* ---- the pipeline (src/core/pipeline.c and friends) ---- */

struct pipeline;

/* What the sinks read: the dashboard draws it, the stream scans it. Valid until the next
 * pipeline call. */
struct pipeline_snapshot {
    const struct vpnscope_config *cfg;
    int n;     /* capture points: 1, or 2 ([0] inside, [1] outside) */
    bool two;  /* inside + outside (two files, router split, two interfaces) */
    bool live; /* live interfaces */
    const struct session_model *models[2];
    uint64_t mem;                        /* bytes held by the engines */
    const char *name[2];                 /* file or interface per capture point, for headers */
    const struct nat_result *nat;        /* mappings so far, final after pipeline_finish (empty with
                                          * one capture point) */
    const struct finding_list *findings; /* the latest detection */
    bool paused, ended, finished, failed;
    uint64_t now_us, first_ts, last_ts; /* packet time */
    uint64_t packets, bytes, drops;
    const char *msg; /* why it ended / what failed / a warning, "" otherwise */
};

/* Opens the sources of cfg (two files: clock pass first; --router: split pass first), the engines,
 * the correlator, -w dump files, then drops privileges when live. NULL with one line in err. */
struct pipeline *pipeline_open(const struct vpnscope_config *cfg, char *err, unsigned errlen);

/* Feeds packets for at most budget_ms of wall time (< 0: until the input ends or stops
 * delivering). Replay is paced by cfg->speed in the dashboard, as fast as possible otherwise.
 * *wait_ms: how long the caller may sleep before calling again (0 more is ready, -1 only when an
 * fd is readable). Returns the packets fed. */
long pipeline_step(struct pipeline *p, double budget_ms, int *wait_ms);

/* Whether every source has ended (end of files, -c, an error, or pipeline_stop). */
bool pipeline_ended(const struct pipeline *p);
/* Saved files: a signal stopped the reading before the end of the input was known to be reached
 * (also when the input "ended" because the signal cut a blocked read short: cap_stop_on). The
 * report then covers only the packets read (it says so, never "No problems found", exit status 2
 * unless findings were raised). No effect in live capture. */
void pipeline_interrupt(struct pipeline *p, int sig);
/* Batch: a flag a signal handler sets; the read-to-the-end steps return soon after it is
 * non-zero (checked every 1,024 packets), so that SIGINT/SIGTERM stop a run whose stderr is not
 * a terminal too. */
void pipeline_stop_flag(struct pipeline *p, const volatile sig_atomic_t *flag);
/* A source failed (read error, interface down); pipeline_message says why. */
bool pipeline_failed(const struct pipeline *p);
const char *pipeline_message(const struct pipeline *p);

/* Runs detection over the models so far (and takes the NAT mappings so far), then returns the
 * snapshot. After pipeline_finish the result is final. */
const struct pipeline_snapshot *pipeline_analyze(struct pipeline *p);
/* The snapshot as of the last pipeline_analyze (counters refreshed). */
const struct pipeline_snapshot *pipeline_snapshot(struct pipeline *p);

/* End of input: finishes the engines and the correlator, runs detection once more. 0, or -1 with
 * err (out of memory). */
int pipeline_finish(struct pipeline *p, char *err, unsigned errlen);

/* Writes the report (text or JSON per cfg) of the final result; returns the exit status per
 * README.md "Exit status" (0/1, 2 when writing failed). */
int pipeline_report(struct pipeline *p, FILE *out);

/* Moves the final NAT result out of the pipeline (the caller frees it with nat_result_free). */
void pipeline_take_nat(struct pipeline *p, struct nat_result *out);

/* Reads every input to its end as fast as possible and finishes (programs and tests without a
 * sink loop). 0, or -1 with err (read error, out of memory). */
int pipeline_run_all(struct pipeline *p, char *err, unsigned errlen);

/* Replay controls (dashboard keys). */
void pipeline_pause(struct pipeline *p, bool paused);
void pipeline_step_packet(struct pipeline *p);
void pipeline_step_second(struct pipeline *p);

/* Live: fds to poll (at most 2), silent-link time advance, kernel drop counters. */
int pipeline_fds(const struct pipeline *p, int *fds);
void pipeline_tick(struct pipeline *p);
void pipeline_drops(struct pipeline *p);

void pipeline_close(struct pipeline *p);

/* Live streaming report (src/core/stream_run.c): streams sessions and findings while capturing,
 * then the final report. Returns the exit status. */
int stream_run(const struct vpnscope_config *cfg);

/* Monotonic seconds (the only wall clock: refresh timers, replay pacing, silent links). */
double pipeline_mono(void);

/* --batch (src/core/batch.c): each capture of cfg->batch_paths analysed on its own, cfg->jobs
 * at a time; records, one capture_summary per capture and a rollup (JSON) or a table (text) on
 * out. Returns the worst exit status. */
int batch_run(const struct vpnscope_config *cfg, FILE *out);

/* Report runs on a terminal (no --no-progress): the progress line on stderr when due (nothing
 * during the first second); end = true clears it. */
void pipeline_show_progress(struct pipeline *p, bool end);
/* Exit status when standard output is a pipe whose reader went away (EPIPE): main dies by SIGPIPE
 * (a shell reports 128 + 13 = 141), as other filters do; nothing is said on stderr. */
#define VPNSCOPE_EXIT_PIPE 141

/* Flushes `out` and checks it (clear errno before writing to it: when an earlier write failed,
 * errno is the cause named): 0 when every write reached it; VPNSCOPE_EXIT_PIPE when the reader
 * of a pipe went away; 2 after "vpnscope: writing WHAT to stdout: reason" on stderr. */
int pipeline_output_status(FILE *out, const char *what);

struct evidence_inputs;
/* Where the findings' frames are read again (--export, the dashboard's export key): the capture
 * files of each capture point and the outside -> inside clock (vpnscope/evidence.h); live, the
 * -w files. false, with the reason in err, when the packets cannot be read again (live capture
 * without -w or with -w rotating, standard input). */
bool pipeline_evidence_inputs(struct pipeline *p, struct evidence_inputs *ei, char *err,
                              unsigned errlen);

#endif
