/* fuzz_file.c - libFuzzer target over whole capture FILES (the packet target is fuzz_pipeline.c):
 * the format probe, gzip and zstd decompression, the pcap reader (file and record headers, every
 * magic and byte order) and the pcapng reader (block framing, sections, interface options with
 * if_tsresol/if_tsoffset, EPB/SPB/PB), through cap_open_buffer and cap_next, as the binary reads a
 * file. Every returned byte is read (so ASan sees overreads), timestamps must never go through a
 * conversion overflow (UBSan), and the cut status must be consistent with the return codes.
 * Inputs whose length is a multiple of 5 also go through a BPF filter and the -w writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKETS 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char eb[CAP_ERRMSG_SIZE];
    bool extras = size % 5 == 0;
    struct cap_src *s =
        cap_open_buffer(data, size, "fuzz", extras ? "udp or esp" : NULL, eb, sizeof(eb));
    if (!s) {
        if (!eb[0])
            abort(); /* an open failure always says why */
        return 0;
    }
    struct cap_writer *w = NULL;
    if (extras) {
        struct cap_writer_opts o = {
            .path = "/dev/null", .dlt = cap_dlt(s), .snaplen = cap_snaplen(s)};
        if (!(w = cap_writer_open(&o, eb, sizeof(eb))))
            abort();
    }
    struct raw_pkt r;
    int rc;
    unsigned n = 0;
    volatile uint8_t sink = 0;
    while (n < MAX_PACKETS && (rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        n++;
        if (r.caplen && !r.data)
            abort();
        for (uint32_t i = 0; i < r.caplen; i++)
            sink ^= r.data[i];
        if (r.frame != n)
            abort();
        if (w && r.dlt == cap_dlt(s))
            cap_writer_write(w, &r, eb, sizeof(eb));
    }
    struct cap_status st;
    bool cut = cap_input_status(s, &st);
    if (n < MAX_PACKETS) {
        if ((rc == 3) != cut || (cut && !st.message[0]) || st.frames != n)
            abort();
        if (rc != 0 && rc != 3)
            abort(); /* a saved capture ends, or is cut: never an error or "no packet now" */
    }
    if (w)
        cap_writer_close(w, eb, sizeof(eb));
    cap_close(s);
    (void)sink;
    return 0;
}
