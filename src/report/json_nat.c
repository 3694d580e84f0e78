/* json_nat.c - the records of the NAT match (doc/json-schema.md): nat_mapping (its fields are the
 * stream's too), unmatched and clock_offset. */
#include "json_int.h"
#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/nat.h"

void rep_json_nat_mapping_fields(struct jw *w, const struct nat_mapping *mp, bool full)
{
    char pbuf[8];
    jw_str(w, "proto", rep_proto_name(mp->proto, pbuf, sizeof(pbuf)));
    jw_nat_id(w, "inside", mp->proto, &mp->inside);
    jw_nat_id(w, "outside", mp->proto, &mp->outside);
    jw_nat_id(w, "peer", mp->proto, &mp->peer);
    if (full && (mp->proto == IPP_ESP || mp->proto == IPP_AH)) {
        jw_obj(w, "spis");
        jw_arr(w, "to_peer");
        for (unsigned i = 0; i < mp->n_spis_to && i < NAT_MAX_SPIS; i++)
            jw_ipsec_spi(w, NULL, mp->spis_to[i]);
        jw_arr_end(w);
        jw_arr(w, "from_peer");
        for (unsigned i = 0; i < mp->n_spis_from && i < NAT_MAX_SPIS; i++)
            jw_ipsec_spi(w, NULL, mp->spis_from[i]);
        jw_arr_end(w);
        jw_obj_end(w);
    }
    jw_bool(w, "translated", mp->translated);
    jw_arr(w, "evidence");
    for (unsigned b = 0; b < 32; b++)
        if (mp->evidence & (1u << b))
            jw_str(w, NULL, nat_evidence_name(1u << b));
    jw_arr_end(w);
    jw_obj(w, "to_peer");
    jw_u64(w, "inside", mp->to_peer_inside);
    jw_u64(w, "outside", mp->to_peer_outside);
    jw_obj_end(w);
    jw_obj(w, "from_peer");
    jw_u64(w, "outside", mp->from_peer_outside);
    jw_u64(w, "inside", mp->from_peer_inside);
    jw_obj_end(w);
    jw_ts(w, "first_ts", mp->first_ts);
    jw_ts(w, "last_ts", mp->last_ts);
    if (!full)
        return;
    /* extensions */
    if (mp->max_gap_survived_us)
        jw_f6(w, "max_gap_survived_s", (double)mp->max_gap_survived_us / 1e6);
    if (mp->min_gap_lost_us)
        jw_f6(w, "min_gap_lost_s", (double)mp->min_gap_lost_us / 1e6);
}

void rep_json_unmatched(struct jw *w, const struct nat_result *nr, const struct nat_unmatched *u,
                        const struct capture_pieces *const *pieces)
{
    char pbuf[8];
    jw_str(w, "side", side_name(u->side));
    jw_str(w, "direction", u->direction ? "from_peer" : "to_peer");
    jw_str(w, "proto", rep_proto_name(u->proto, pbuf, sizeof(pbuf)));
    jw_ip(w, "src", &u->src);
    jw_ip(w, "dst", &u->dst);
    if (u->has_ports) {
        jw_u64(w, "sport", u->sport);
        jw_u64(w, "dport", u->dport);
    }
    if (u->has_spi)
        jw_ipsec_spi(w, "spi", u->spi);
    if (u->has_call_id)
        jw_u64(w, "call_id", u->call_id);
    jw_u64(w, "packets", u->packets);
    jw_ts(w, "first_ts", u->first_ts);
    jw_ts(w, "last_ts", u->last_ts);
    jw_arr(w, "frames");
    for (unsigned i = 0; i < u->nframes && i < UNMATCHED_MAX_FRAMES && i < 20; i++) {
        jw_obj(w, NULL);
        jw_frame_keys(w, rep_pieces_of(pieces, u->side), u->side, u->frames[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    if (u->mapping >= 0 && (size_t)u->mapping < nr->n_map) {
        const struct nat_mapping *mp = &nr->map[u->mapping];
        jw_obj(w, "mapping");
        jw_nat_id(w, "inside", mp->proto, &mp->inside);
        jw_nat_id(w, "outside", mp->proto, &mp->outside);
        jw_obj_end(w);
    } else {
        jw_null(w, "mapping");
    }
}

void rep_json_clock(struct jw *w, const struct nat_clock *c)
{
    jw_f6(w, "seconds", c->seconds);
    jw_f6(w, "drift_ppm", c->drift_ppm);
    jw_u64(w, "evidence_packets", c->evidence_packets);
    if (c->valid && c->ref_us)
        jw_ts(w, "ref_ts",
              c->ref_us); /* inside-clock time at which `seconds` holds (drift origin) */
}
