/* model_int.h - private to the snapshot builder of src/ui/ (model.c, model_rows.c). */
#ifndef VPNSCOPE_UI_MODEL_INT_H
#define VPNSCOPE_UI_MODEL_INT_H

#include "ui_int.h"

/* Where a row comes from (for its detail and the findings that name it). */
struct row_ref {
    uint8_t model;
    uint32_t slot;
    uint8_t call;
    struct ip_addr cip, sip;
};

struct builder {
    struct ui_model *m;
    const struct pipeline_snapshot *f;
    const struct nat_timeouts *to;
    struct row_ref *ref;
    size_t cap;
    size_t n;
    size_t total;
};

/* Rows of every model (IKE, ESP/AH, PPTP, other flows) with their states; b->ref[i] says where
 * row i comes from. */
void ui_rows_tunnels(struct builder *b);
/* WireGuard and OpenVPN rows of model mi (model_rows_vpn.c). */
void ui_rows_vpn(struct builder *b, uint8_t mi);
/* The NAT view rows. */
void ui_rows_nat(struct builder *b);

/* Shared by the row builders (model_rows.c): "ip:port" ("[v6]:port", the address alone for port
 * 0); a new row with a stable id from kind and key (NULL when the rows are full; *ref says where
 * it comes from); the state and colour of a row from its idle time, direction and closed state. */
char *ui_ep_str(const struct ip_addr *ip, uint16_t port, char *buf, size_t n);
struct ui_tunnel *ui_row_new(struct builder *b, uint8_t kind, uint8_t side, const void *key,
                             size_t klen, struct row_ref **ref);
void ui_row_state(struct builder *b, struct ui_tunnel *t, const char *closed);

#endif
