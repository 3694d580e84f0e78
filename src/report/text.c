/* text.c - the human report: findings first (most severe, then by time), then the sessions in
 * aligned tables, NAT mappings, and the summary. Same content and order rules as the JSON sink;
 * every string from the capture is escaped (\xNN) before it reaches the terminal. */
#include "text_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- strings ---- */

/* Printable ASCII is kept; backslash and every other byte become \\ and \xNN. */
char *tx_escape(const char *in, char *out, size_t size)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    for (; *s && o + 5 < size; s++) {
        if (*s == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else if (*s >= 0x20 && *s < 0x7f) {
            out[o++] = (char)*s;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
        }
    }
    if (size)
        out[o < size ? o : size - 1] = '\0';
    return out;
}

/* Writes escaped text word-wrapped at TX_WIDTH; the cursor is at column `col` on entry and lines
 * after the first start with `indent` spaces. Ends with a newline. */
void tx_wrap(FILE *out, const char *text, unsigned col, unsigned indent)
{
    char buf[4096]; /* 4 bytes per escaped byte of a 640-byte summary */
    tx_escape(text, buf, sizeof(buf));
    const char *p = buf;
    bool first_word = true;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        if (!first_word && col + 1 + len > TX_WIDTH && col > indent) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first_word) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += (unsigned)len;
        p += len;
        first_word = false;
    }
    fputc('\n', out);
}

char *tx_ip(const struct ip_addr *a, char *buf, unsigned size)
{
    if (a->v != 4 && a->v != 6) {
        snprintf(buf, size, "-");
        return buf;
    }
    return ip_addr_str(a, buf, size);
}

/* "1.2.3.4:500" or "[2001:db8::1]:500". */
char *tx_ipport(const struct ip_addr *a, uint16_t port, char *buf, unsigned size)
{
    char ip[64];
    tx_ip(a, ip, sizeof(ip));
    if (a->v == 6)
        snprintf(buf, size, "[%s]:%u", ip, (unsigned)port);
    else
        snprintf(buf, size, "%s:%u", ip, (unsigned)port);
    return buf;
}

const char *tx_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- tables: two passes over the rows, widths first ---- */

void tx_cellf(char *cell, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cell, TX_CELL, fmt, ap);
    va_end(ap);
    if (n >= TX_CELL)
        memcpy(cell + TX_CELL - 4, "...", 4);
}

void tx_cellts(char *cell, uint64_t ts)
{
    char b[40];
    tx_cellf(cell, "%s", ts_iso(ts, b, sizeof(b)));
}
/* Prints the section over the matching records (column 0, the capture, only with two captures).
 * Returns the number of rows. */
static size_t tx_section(FILE *out, const struct report_input *in, const struct rep_list *l,
                         const struct tx_section *s)
{
    size_t n = 0;
    unsigned w[TX_MAXCOL] = {0};
    char cells[TX_MAXCOL][TX_CELL];
    unsigned c0 = 1;
    if (s->col0 == TX_COL0_ALWAYS || (s->col0 == TX_COL0_CAPTURE && in->n_models >= 2))
        c0 = 0;
    for (unsigned c = c0; c < s->ncols; c++)
        w[c] = (unsigned)strlen(s->head[c]);
    for (size_t i = 0; i < l->n; i++) {
        struct rep_rec r;
        if (!s->match(rep_get(l, i, &r)))
            continue;
        memset(cells, 0, sizeof(cells));
        s->row(in, &r, cells);
        for (unsigned c = c0; c < s->ncols; c++) {
            unsigned len = (unsigned)strlen(cells[c]);
            if (len > w[c])
                w[c] = len;
        }
        n++;
    }
    if (n == 0)
        return 0;
    fprintf(out, "\n%s (%zu)\n", s->title, n);
    fputs("  ", out);
    for (unsigned c = c0; c < s->ncols; c++) {
        if (c + 1 < s->ncols)
            fprintf(out, "%-*s  ", (int)w[c], s->head[c]);
        else
            fprintf(out, "%s\n", s->head[c]);
    }
    for (size_t i = 0; i < l->n; i++) {
        struct rep_rec r;
        if (!s->match(rep_get(l, i, &r)))
            continue;
        memset(cells, 0, sizeof(cells));
        s->row(in, &r, cells);
        fputs("  ", out);
        for (unsigned c = c0; c < s->ncols; c++) {
            if (c + 1 < s->ncols)
                fprintf(out, "%-*s  ", (int)w[c], cells[c]);
            else
                fprintf(out, "%s\n", cells[c]);
        }
    }
    return n;
}

void report_text(FILE *out, const struct report_input *in)
{
    struct rep_totals t;
    struct rep_list l;
    rep_totals(in, &t);
    rep_build(&l, in);
    tx_print_header(out, in);
    tx_print_findings(out, in, &t);
    for (size_t i = 0; i < tx_n_session_sections; i++)
        tx_section(out, in, &l, &tx_session_sections[i]);
    tx_section(out, in, &l, &tx_wg_section);
    tx_section(out, in, &l, &tx_ovpn_section);
    if (tx_section(out, in, &l, &tx_nat_section) == 0 && in->nat)
        fputs("\nNAT mappings: none\n", out);
    tx_section(out, in, &l, &tx_unmatched_section);
    tx_print_clock(out, in);
    tx_print_summary(out, in, &t);
    rep_list_free(&l);
}

void report_text_summary(FILE *out, const struct report_input *in)
{
    struct rep_totals t;
    rep_totals(in, &t);
    tx_print_summary(out, in, &t);
}

/* ---- --batch table ---- */

void report_batch_header_text(FILE *out)
{
    fprintf(out, "%-48s %10s %7s %4s  %s\n", "CAPTURE", "PACKETS", "TUNNELS", "EXIT",
            "FINDINGS / ERROR");
}

/* "kind:count kind:count" of the kinds found, "-" when none. */
static void tx_kinds(FILE *out, const uint32_t *k32, const uint64_t *k64)
{
    bool any = false;
    for (unsigned k = 0; k < FINDING__COUNT; k++) {
        uint64_t v = k32 ? k32[k] : k64[k];
        if (!v)
            continue;
        fprintf(out, "%s%s:%llu", any ? " " : "", finding_kind_name(k), (unsigned long long)v);
        any = true;
    }
    if (!any)
        fputc('-', out);
}

void report_capture_row_text(FILE *out, const struct batch_capture *c)
{
    char name[1024];
    tx_escape(c->file, name, sizeof(name));
    fprintf(out, "%-48s %10llu %7llu %4d  ", name, (unsigned long long)c->packets,
            (unsigned long long)c->tunnels, c->exit_status);
    if (c->error && c->error[0]) {
        char e[2048];
        fprintf(out, "error: %s\n", tx_escape(c->error, e, sizeof(e)));
        return;
    }
    tx_kinds(out, c->kinds, NULL);
    if (c->warning && c->warning[0]) {
        char e[2048];
        fprintf(out, " (warning: %s)", tx_escape(c->warning, e, sizeof(e)));
    }
    fputc('\n', out);
}

void report_rollup_text(FILE *out, const struct batch_rollup *r)
{
    fprintf(out,
            "\n%llu captures, %llu failed, %llu skipped (not captures); %llu packets, %llu "
            "tunnels; findings: ",
            (unsigned long long)r->captures, (unsigned long long)r->failed,
            (unsigned long long)r->skipped, (unsigned long long)r->packets,
            (unsigned long long)r->tunnels);
    tx_kinds(out, NULL, r->kinds);
    fprintf(out, "; exit status %d\n", r->exit_status);
}
