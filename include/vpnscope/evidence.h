/* evidence.h - what a ticket can carry: Wireshark display filters for a finding's frames, a
 * pcapng per finding (--export DIR), a self-contained HTML report (--html FILE). */
#ifndef VPNSCOPE_EVIDENCE_H
#define VPNSCOPE_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/finding.h"
#include "vpnscope/nat.h"

/* Room for any display filter evidence_display_filter writes. */
#define EVIDENCE_FILTER_MAX (FINDING_MAX_FRAMES * 24 + 64)

/* The Wireshark display filter that selects exactly the listed frames of f taken on capture
 * (enum cap_side), e.g. "frame.number in {5, 6, 8..12}"; written to buf (size bytes, at least
 * EVIDENCE_FILTER_MAX for any finding). Returns how many frames it selects (0: none on that
 * capture, buf is then ""). */
unsigned evidence_display_filter(const struct finding *f, uint8_t capture, char *buf, size_t size);

/* Where a finding's frames come from: the capture files of each capture point, as the report
 * names them ([0] single/inside, [1] outside), and how outside time maps to the inside clock. */
struct evidence_inputs {
    int n;                          /* capture points: 1 or 2 */
    bool same_file;                 /* --router: both points are frames of the one file */
    const char *const *captures[2]; /* NULL-terminated file lists (pieces numbered across) */
    const struct nat_clock *clock;  /* outside -> inside clock (NULL: one clock already) */
    /* the files of each capture point when it has several -r pieces (NULL: one file): frame
     * references then name their file */
    const struct capture_pieces *pieces[2];
};

/* --export DIR: one pcapng per finding of fl (DIR/NNN-kind.pcapng, NNN its 1-based position in
 * fl) holding its listed frames, re-read from the inputs by frame number: one interface per
 * capture (and link type), every timestamp on one clock (the inside one in two-capture mode), a
 * comment on each packet saying its capture, frame number and role; and DIR/index.jsonl, one
 * line per file (the finding record with "file" and "packets"). Creates DIR when missing.
 * 0, or -1 with one line in err. */
int evidence_export(const char *dir, const struct finding_list *fl,
                    const struct evidence_inputs *in, char *err, unsigned errlen);

/* The same for the one finding f (the dashboard's export key): writes DIR/NNN-kind.pcapng with
 * NNN = pos + 1 (pos: its index in the finding list --export numbers) and adds its line to
 * DIR/index.jsonl unless the index already has one for that file. path gets the file written. */
int evidence_export_one(const char *dir, const struct finding *f, size_t pos,
                        const struct evidence_inputs *in, char *path, size_t pathlen, char *err,
                        unsigned errlen);

struct report_input;
/* --html FILE: the self-contained HTML report of in, written to out. 0, or -1 on a write error. */
int report_html(FILE *out, const struct report_input *in);

/* The display filter of f's frames on capture `capture` that were read from file `file` of the
 * capture point's pieces pc, in that file's own frame numbers (what Wireshark shows when it
 * opens the file alone). Returns how many frames it selects (0: none, buf ""). */
struct capture_pieces;
unsigned evidence_display_filter_file(const struct finding *f, uint8_t capture,
                                      const struct capture_pieces *pc, int file, char *buf,
                                      size_t size);

#endif
