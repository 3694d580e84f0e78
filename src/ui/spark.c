/* spark.c - the per-tunnel activity sparkline: the session model's packet buckets (struct spark,
 * each way) resampled onto UI_SPARK_COLS columns of one time range shared by every row (saved
 * captures: the capture so far; live: the last SPARK_BUCKETS x SPARK_LIVE_WIDTH_US), then drawn
 * as eight levels (UTF-8 block elements, or ASCII " .:-=+*#"). A blank column: no packet. */
#include "ui_int.h"

#include <string.h>

void ui_spark_range(struct ui_model *m, const struct pipeline_snapshot *f)
{
    uint64_t hi = f->now_us, lo = f->first_ts;
    if (f->live) {
        uint64_t win = (uint64_t)SPARK_BUCKETS * SPARK_LIVE_WIDTH_US;
        if (hi > lo + win)
            lo = hi - win;
    }
    if (hi < lo + 1000000u)
        hi = lo + 1000000u;
    m->spk_lo = lo;
    m->spk_hi = hi;
}

void ui_spark_add(const struct ui_model *m, struct ui_tunnel *t, const struct spark *s,
                  uint64_t first_ts, uint64_t last_ts, bool flip)
{
    if (!s || !s->width_us || m->spk_hi <= m->spk_lo)
        return;
    uint64_t lo = m->spk_lo, span = m->spk_hi - m->spk_lo;
    for (int d = 0; d < 2; d++) {
        uint32_t *out = t->spk[flip ? 1 - d : d];
        for (unsigned i = 0; i < SPARK_BUCKETS; i++) {
            uint32_t c = s->n[d][i];
            if (!c)
                continue;
            /* the bucket, within the record's life (a wide bucket does not paint beyond it) */
            uint64_t b0 = s->origin_us + i * s->width_us, b1 = b0 + s->width_us;
            if (b0 < first_ts)
                b0 = first_ts;
            if (b1 > last_ts + 1)
                b1 = last_ts + 1;
            if (b1 <= lo || b0 >= lo + span || b1 <= b0)
                continue;
            uint64_t c0 = b0 > lo ? (b0 - lo) * UI_SPARK_COLS / span : 0;
            uint64_t c1 = (b1 - lo) * UI_SPARK_COLS / span;
            if (c1 >= UI_SPARK_COLS)
                c1 = UI_SPARK_COLS - 1;
            if (c0 > c1)
                c0 = c1;
            uint32_t share = (uint32_t)((c + (c1 - c0)) / (c1 - c0 + 1)); /* at least 1 */
            for (uint64_t k = c0; k <= c1; k++)
                out[k] = out[k] + share < out[k] ? UINT32_MAX : out[k] + share;
        }
    }
}

void ui_spark_render(const struct ui_tunnel *t, int dir, int width, bool utf8, char *buf,
                     size_t size)
{
    static const char *const blocks[9] = {" ",      "\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[] = " .:-=+*#";
    size_t o = 0;
    if (width > UI_SPARK_COLS)
        width = UI_SPARK_COLS;
    uint64_t v[UI_SPARK_COLS], max = 0;
    for (int d = 0; d < 2; d++) /* one scale for both directions */
        for (int j = 0; j < width; j++) {
            uint64_t sum = 0;
            for (int k = j * UI_SPARK_COLS / width; k < (j + 1) * UI_SPARK_COLS / width; k++)
                sum += t->spk[d][k];
            if (d == dir)
                v[j] = sum;
            if (sum > max)
                max = sum;
        }
    for (int j = 0; j < width && o + 4 < size; j++) {
        unsigned lvl = v[j] ? (unsigned)((v[j] * 8 + max - 1) / max) : 0;
        if (lvl > 8)
            lvl = 8;
        if (utf8) {
            size_t l = strlen(blocks[lvl]);
            memcpy(buf + o, blocks[lvl], l);
            o += l;
        } else {
            buf[o++] = ascii[(lvl * 7 + 7) / 8];
        }
    }
    buf[o] = 0;
}
