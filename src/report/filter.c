/* filter.c - Wireshark display filters for a finding's evidence: frame numbers are the one field
 * every dissector agrees on, so the filter is "frame.number in {...}" over the listed frames of
 * one capture, consecutive runs written as ranges. It selects exactly those frames in the capture
 * file they were read from (frame numbers count every record of the file, filtered or not). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "vpnscope/evidence.h"

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : (a > b);
}

static bool frame_before(const struct frame_ref *a, const struct frame_ref *b)
{
    if (a->capture != b->capture)
        return a->capture < b->capture;
    return a->frame < b->frame;
}

unsigned rep_frames_sorted_ix(const struct finding *f, unsigned *ix)
{
    unsigned n = f->n_frames < FINDING_MAX_FRAMES ? f->n_frames : FINDING_MAX_FRAMES;
    for (unsigned i = 0; i < n; i++)
        ix[i] = i;
    /* insertion sort (n <= FINDING_MAX_FRAMES) */
    for (unsigned i = 1; i < n; i++) {
        unsigned k = ix[i], j = i;
        while (j > 0 && frame_before(&f->frames[k], &f->frames[ix[j - 1]])) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = k;
    }
    return n;
}

/* The filter over frame numbers v[0..n) (reordered). */
static unsigned write_filter(uint64_t *v, unsigned n, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (!n || size < 32)
        return 0;
    qsort(v, n, sizeof(v[0]), cmp_u64);
    size_t off = (size_t)snprintf(buf, size, "frame.number in {");
    for (unsigned i = 0; i < n;) {
        unsigned j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        char item[48];
        if (j == i)
            snprintf(item, sizeof(item), "%s%llu", i ? ", " : "", (unsigned long long)v[i]);
        else
            snprintf(item, sizeof(item), "%s%llu..%llu", i ? ", " : "", (unsigned long long)v[i],
                     (unsigned long long)v[j]);
        size_t len = strlen(item);
        if (off + len + 2 > size) {
            buf[0] = '\0'; /* never a filter that selects fewer frames than it claims */
            return 0;
        }
        memcpy(buf + off, item, len + 1);
        off += len;
        i = j + 1;
    }
    buf[off++] = '}';
    buf[off] = '\0';
    return n;
}

unsigned evidence_display_filter(const struct finding *f, uint8_t capture, char *buf, size_t size)
{
    uint64_t v[FINDING_MAX_FRAMES];
    unsigned n = 0;
    for (unsigned i = 0; i < f->n_frames && i < FINDING_MAX_FRAMES; i++)
        if (f->frames[i].capture == capture)
            v[n++] = f->frames[i].frame;
    return write_filter(v, n, buf, size);
}

unsigned evidence_display_filter_file(const struct finding *f, uint8_t capture,
                                      const struct capture_pieces *pc, int file, char *buf,
                                      size_t size)
{
    uint64_t v[FINDING_MAX_FRAMES];
    unsigned n = 0;
    for (unsigned i = 0; i < f->n_frames && i < FINDING_MAX_FRAMES; i++) {
        uint64_t local;
        const char *name = capture_pieces_frame(pc, f->frames[i].frame, &local);
        if (f->frames[i].capture == capture && pc && file >= 0 && file < pc->n &&
            name == pc->files[file])
            v[n++] = local;
    }
    return write_filter(v, n, buf, size);
}
