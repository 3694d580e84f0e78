/* text_int.h - what the files of the text report share (text.c, text_sessions.c, text_nat.c,
 * text_findings.c, text_summary.c); private to src/report/. */
#ifndef VPNSCOPE_REPORT_TEXT_INT_H
#define VPNSCOPE_REPORT_TEXT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report_int.h"
#include "vpnscope/report.h"

#define TX_WIDTH 100 /* wrap column for prose */
#define TX_CELL 96   /* bytes per table cell (longer values are cut with "...") */
#define TX_MAXCOL 16

/* text.c: strings */
char *tx_escape(const char *in, char *out, size_t size);
void tx_wrap(FILE *out, const char *text, unsigned col, unsigned indent);
char *tx_ip(const struct ip_addr *a, char *buf, unsigned size);
char *tx_ipport(const struct ip_addr *a, uint16_t port, char *buf, unsigned size);
const char *tx_plural(uint64_t n, const char *one, const char *many);

/* text.c: tables, two passes over the rows, widths first */
typedef void (*tx_row_fn)(const struct report_input *in, const struct rep_rec *r,
                          char cells[][TX_CELL]);

void tx_cellf(char *cell, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tx_cellts(char *cell, uint64_t ts);

/* Column 0 of a table: the capture (shown only with two captures), always shown, or never. */
enum tx_col0 { TX_COL0_CAPTURE = 0, TX_COL0_ALWAYS, TX_COL0_NEVER };

struct tx_section {
    const char *title;
    uint8_t col0; /* enum tx_col0 */
    unsigned ncols;
    const char *const *head;
    tx_row_fn row;
    bool (*match)(const struct rep_rec *r);
};

/* text_sessions.c: the session tables (IKE, ESP/AH, PPTP, GRE, L2TP, other VPN flows), in
 * report order */
extern const struct tx_section tx_session_sections[];
extern const size_t tx_n_session_sections;

/* text_tunnels.c: the WireGuard and OpenVPN session tables */
extern const struct tx_section tx_wg_section;
extern const struct tx_section tx_ovpn_section;

/* text_nat.c: the NAT mapping and unmatched tables */
extern const struct tx_section tx_nat_section;
extern const struct tx_section tx_unmatched_section;

/* text_findings.c */
void tx_print_findings(FILE *out, const struct report_input *in, const struct rep_totals *t);

/* text_summary.c: the header before the findings, the clock and the summary at the end */
void tx_print_header(FILE *out, const struct report_input *in);
void tx_print_clock(FILE *out, const struct report_input *in);
void tx_print_summary(FILE *out, const struct report_input *in, const struct rep_totals *t);

#endif
