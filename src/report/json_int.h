/* json_int.h - what the files of the JSON report share (json.c, json_sessions.c, json_nat.c,
 * json_tunnels.c, json_summary.c); private to src/report/. The fields shared with the stream and
 * the exports are in jsonw.h. */
#ifndef VPNSCOPE_REPORT_JSON_INT_H
#define VPNSCOPE_REPORT_JSON_INT_H

#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/report.h"

/* The records after "type" (and "file"), one function per record type; json.c picks one by
 * rep_rec.type. nat_mapping and finding records: rep_json_nat_mapping_fields (full) and
 * rep_json_finding (jsonw.h). */

/* json_sessions.c */
void rep_json_ike(struct jw *w, const struct session_model *m, const struct ike_sa *sa);
void rep_json_ipsec(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa);
void rep_json_pptp_call(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c,
                        unsigned k);
void rep_json_pptp_ctrl(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c);
void rep_json_gre(struct jw *w, const struct session_model *m, const struct gre_flow *g);
void rep_json_l2tp(struct jw *w, const struct session_model *m, const struct l2tp_sess *s);
void rep_json_flow(struct jw *w, const struct session_model *m, const struct flow *f);

/* json_tunnels.c */
struct wg_session;
struct ovpn_session;
void rep_json_wg(struct jw *w, const struct session_model *m, const struct wg_session *s);
void rep_json_ovpn(struct jw *w, const struct session_model *m, const struct ovpn_session *s);

/* json_nat.c */
void rep_json_unmatched(struct jw *w, const struct nat_result *nr, const struct nat_unmatched *u,
                        const struct capture_pieces *const *pieces);
void rep_json_clock(struct jw *w, const struct nat_clock *c);

/* json_summary.c: the summary record after "type" (and "file") */
void rep_json_summary(struct jw *w, const struct report_input *in);

#endif
