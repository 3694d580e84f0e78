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
/* The NAT view rows. */
void ui_rows_nat(struct builder *b);

#endif
