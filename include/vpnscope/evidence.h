/* evidence.h - what a ticket can carry: Wireshark display filters for a finding's frames, a
 * pcapng per finding (--export DIR), a self-contained HTML report (--html FILE). */
#ifndef VPNSCOPE_EVIDENCE_H
#define VPNSCOPE_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/finding.h"

/* Room for any display filter evidence_display_filter writes. */
#define EVIDENCE_FILTER_MAX (FINDING_MAX_FRAMES * 24 + 64)

/* The Wireshark display filter that selects exactly the listed frames of f taken on capture
 * (enum cap_side), e.g. "frame.number in {5, 6, 8..12}"; written to buf (size bytes, at least
 * EVIDENCE_FILTER_MAX for any finding). Returns how many frames it selects (0: none on that
 * capture, buf is then ""). */
unsigned evidence_display_filter(const struct finding *f, uint8_t capture, char *buf, size_t size);

#endif
