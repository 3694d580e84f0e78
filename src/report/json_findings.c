/* json_findings.c - the finding record (doc/json-schema.md), written by the report, the stream
 * (stream.c) and the exports (export.c). */
#include <string.h>

#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/evidence.h"

/* display_filter: one filter per capture the finding has frames on; a capture point of several
 * files has one per file instead, keyed by the file's name, in that file's frame numbers. */
static void jw_display_filter(struct jw *w, const struct finding *f,
                              const struct capture_pieces *const *pieces)
{
    static const uint8_t caps[] = {SIDE_SINGLE, SIDE_INSIDE, SIDE_OUTSIDE};
    char buf[EVIDENCE_FILTER_MAX];
    jw_obj(w, "display_filter");
    for (unsigned c = 0; c < sizeof(caps); c++) {
        const struct capture_pieces *pc = rep_pieces_of(pieces, caps[c]);
        for (int k = 0; pc && k < pc->n; k++)
            if (evidence_display_filter_file(f, caps[c], pc, k, buf, sizeof(buf)))
                jw_str(w, pc->files[k], buf);
        if (!pc && evidence_display_filter(f, caps[c], buf, sizeof(buf)))
            jw_str(w, side_name(caps[c]), buf);
    }
    jw_obj_end(w);
}

void rep_json_finding(struct jw *w, const struct finding *f,
                      const struct capture_pieces *const *pieces)
{
    char buf[40];
    jw_str(w, "kind", finding_kind_name(f->kind));
    jw_str(w, "severity", severity_name(f->sev));
    jw_str(w, "confidence", f->confirmed ? "confirmed" : "suspected");
    jw_ts(w, "ts", f->ts_us);
    jw_str(w, "summary", f->summary);
    jw_str(w, "remedy", f->remedy);
    jw_arr(w, "sessions");
    for (uint32_t i = 0, ns = finding_n_sessions(f); i < ns; i++) {
        const struct finding_session *s = finding_session_at(f, i);
        jw_obj(w, NULL);
        jw_str(w, "role", fs_role_name(s->role));
        jw_ip(w, "ip", &s->ip);
        if (s->has_port)
            jw_u64(w, "port", s->port);
        if (s->has_outside) {
            jw_obj(w, "outside");
            jw_ip(w, "ip", &s->out_ip);
            if (s->has_out_port)
                jw_u64(w, "port", s->out_port);
            jw_obj_end(w);
        }
        if (s->has_spi)
            jw_ipsec_spi(w, "spi", s->spi);
        if (s->has_call_id)
            jw_u64(w, "call_id", s->call_id);
        if (s->note[0])
            jw_str(w, "note", s->note);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj(w, "evidence");
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++) {
        const struct finding_ev *e = &f->ev[i];
        if (strcmp(e->key, "frames") == 0)
            continue; /* reserved for the frame list */
        switch (e->type) {
        case EV_INT:
            jw_i64(w, e->key, e->i);
            break;
        case EV_STR:
            jw_str(w, e->key, e->s);
            break;
        case EV_TS:
            jw_str(w, e->key, ts_iso((uint64_t)e->i, buf, sizeof(buf)));
            break;
        case EV_SECONDS:
            jw_f6(w, e->key, e->d);
            break;
        case EV_BOOL:
            jw_bool(w, e->key, e->i != 0);
            break;
        default:
            jw_null(w, e->key);
            break;
        }
    }
    unsigned ix[FINDING_MAX_FRAMES];
    unsigned nf = rep_frames_sorted_ix(f, ix);
    jw_arr(w, "frames");
    for (unsigned i = 0; i < nf; i++) {
        const struct frame_ref *fr = &f->frames[ix[i]];
        jw_obj(w, NULL);
        jw_frame_keys(w, rep_pieces_of(pieces, fr->capture), fr->capture, fr->frame);
        if (f->frame_role[ix[i]])
            jw_str(w, "role", f->frame_role[ix[i]]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_u64(w, "frames_total", f->frames_total > nf ? f->frames_total : nf);
    jw_obj_end(w);
    if (f->group_count) {
        jw_u64(w, "count", (uint64_t)f->group_count + 1);
    }
    jw_display_filter(w, f, pieces);
}
