/* fuzz_pipeline.c - libFuzzer target over the whole pipeline: link layer -> decoders -> fragment
 * reassembly -> session model -> detectors -> JSON and text reports (to /dev/null).
 * Input: byte 0 picks the link type; then packets as [len_hi len_lo][len bytes]..., each 1 ms
 * apart, so multi-packet exchanges (IKE request/response, fragments, PPTP calls) are reachable.
 * nDPI is left out (its own project fuzzes it); everything of ours runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/capture.h"
#include "vpnscope/detect.h"
#include "vpnscope/engine.h"
#include "vpnscope/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {1, 113, 276, 12, 228, 229, 0, 108, 101, 14};

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[256];
    struct engine_opts eo = {.no_ndpi = true};
    struct engine *e = engine_new(SIDE_SINGLE, &eo, err, sizeof(err));
    if (!e)
        return 0;
    int dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
    size_t off = 1;
    uint64_t frame = 0;
    while (off + 2 <= size && frame < 4096) {
        size_t len = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        /* copy so ASan sees reads past the packet end */
        uint8_t *pkt = malloc(len ? len : 1);
        if (!pkt)
            break;
        memcpy(pkt, data + off, len);
        struct raw_pkt raw = {0};
        raw.ts_us = 1700000000000000ull + frame * 1000u;
        raw.caplen = (uint32_t)len;
        raw.len = (uint32_t)len;
        raw.dlt = dlt;
        raw.data = pkt;
        raw.frame = ++frame;
        engine_packet(e, &raw);
        free(pkt);
        off += len;
    }
    engine_finish(e);
    struct finding_list fl = {0};
    struct detect_ctx dc;
    memset(&dc, 0, sizeof(dc));
    dc.single = engine_model(e);
    dc.to = (struct nat_timeouts){30, 120, 432000, 180, 600};
    dc.out = &fl;
    detect_run(&dc);
    struct report_input ri;
    memset(&ri, 0, sizeof(ri));
    static const char *const names[] = {"fuzz.pcap", NULL};
    ri.models[0] = engine_model(e);
    ri.n_models = 1;
    ri.captures[0] = names;
    ri.findings = &fl;
    ri.all_flows = true;
    report_json(devnull(), &ri);
    report_text(devnull(), &ri);
    finding_list_free(&fl);
    engine_free(e);
    return 0;
}
