/* actions.c - what the Findings view leads to: the tunnel a finding names (key t, and back) and
 * its packets written as --export writes them (key x: evidence_export_one, DIR/NNN-kind.pcapng
 * and its line in DIR/index.jsonl). The result is said on the footer line. */
#include "ui_int.h"

#include <stdio.h>
#include <string.h>

#include "vpnscope/evidence.h"

/* The selected finding of the Findings view (index into m->find), or -1. */
static long selected_finding(const struct ui_state *st)
{
    if (st->view != VIEW_FINDINGS || st->n_order == 0)
        return -1;
    int s = st->sel[VIEW_FINDINGS];
    if (s < 0)
        s = 0;
    if (s >= (int)st->n_order)
        s = (int)st->n_order - 1;
    return (long)st->order[s];
}

bool ui_jump_tunnel(struct ui_state *st, const struct ui_model *m)
{
    long k = selected_finding(st);
    if (k < 0)
        return false;
    const struct ui_findref *fr = &m->fref[k];
    if (!fr->tun_id) {
        snprintf(st->flash, sizeof(st->flash), "this finding names no tunnel of the Tunnels view");
        return false;
    }
    bool was_open = st->finding_open;
    st->view = VIEW_TUNNELS;
    st->finding_open = false;
    ui_order(st, m);
    long pos = -1;
    for (size_t i = 0; i < st->n_order && pos < 0; i++)
        if (m->tun[st->order[i]].id == fr->tun_id)
            pos = (long)i;
    if (pos < 0 && st->filter[0]) { /* hidden by the filter: clear it */
        st->filter[0] = 0;
        ui_order(st, m);
        for (size_t i = 0; i < st->n_order && pos < 0; i++)
            if (m->tun[st->order[i]].id == fr->tun_id)
                pos = (long)i;
    }
    if (pos < 0) {
        st->view = VIEW_FINDINGS;
        st->finding_open = was_open;
        ui_order(st, m);
        snprintf(st->flash, sizeof(st->flash), "the tunnel of this finding is no longer listed");
        return false;
    }
    st->sel[VIEW_TUNNELS] = (int)pos;
    st->prev_view = VIEW_FINDINGS;
    st->jumped = true;
    st->jump_open = was_open;
    if (fr->n_tun > 1)
        snprintf(st->flash, sizeof(st->flash),
                 "the finding names %u tunnels: the first is selected (Esc/t: back)", fr->n_tun);
    else
        snprintf(st->flash, sizeof(st->flash), "the tunnel the finding names (Esc/t: back)");
    return true;
}

void ui_jump_back(struct ui_state *st, const struct ui_model *m)
{
    st->jumped = false;
    st->view = VIEW_FINDINGS;
    st->finding_open = st->jump_open;
    ui_order(st, m);
}

/* The default export directory: ./vpnscope-export-<first capture's name without .gz/.zst and
 * .pcap/.pcapng/.cap>. */
static void default_dir(char *buf, size_t n, const char *capture)
{
    const char *base = strrchr(capture, '/');
    base = base ? base + 1 : capture;
    char name[256];
    snprintf(name, sizeof(name), "%s", base);
    static const char *const sfx[] = {".gz", ".zst", ".pcapng", ".pcap", ".cap"};
    for (unsigned i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        size_t l = strlen(name), s = strlen(sfx[i]);
        if (l > s && strcmp(name + l - s, sfx[i]) == 0)
            name[l - s] = 0;
    }
    snprintf(buf, n, "vpnscope-export-%s", name[0] ? name : "capture");
}

void ui_export_finding(struct ui_state *st, const struct ui_model *m, struct pipeline *p)
{
    long k = selected_finding(st);
    if (k < 0)
        return;
    char err[1024];
    struct evidence_inputs ei;
    if (!pipeline_evidence_inputs(p, &ei, err, sizeof(err))) {
        snprintf(st->flash, sizeof(st->flash), "cannot export: %.100s", err);
        return;
    }
    const struct finding *f = &m->find[k];
    if (!f->n_frames) {
        snprintf(st->flash, sizeof(st->flash), "this finding lists no frame to export");
        return;
    }
    const struct vpnscope_config *c = pipeline_snapshot(p)->cfg;
    char dir[512], path[4096];
    if (c->export_dir)
        snprintf(dir, sizeof(dir), "%s", c->export_dir);
    else
        default_dir(dir, sizeof(dir), ei.captures[0] && ei.captures[0][0] ? ei.captures[0][0] : "");
    if (evidence_export_one(dir, f, m->fref[k].pos, &ei, path, sizeof(path), err, sizeof(err)) != 0)
        snprintf(st->flash, sizeof(st->flash), "export failed: %.110s", err);
    else
        snprintf(st->flash, sizeof(st->flash), "wrote %u packets: %.100s",
                 f->n_frames < FINDING_MAX_FRAMES ? f->n_frames : FINDING_MAX_FRAMES, path);
}
