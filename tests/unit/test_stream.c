/* test_stream.c - the streaming report (src/report/stream.c) over lab captures, driven as the
 * live loop drives it (src/core/stream_run.c): the pipeline stepped a few packets at a time, a
 * scan once a second of packet time, the final scan at the end. Checks the WireGuard and OpenVPN
 * session events (established, ended past the timeout, update), and compares the whole stream of
 * captures with every session type (IKE, ESP, AH, PPTP, NAT mappings, WireGuard, OpenVPN), JSON
 * and text, with tests/golden/stream/ (VPNSCOPE_STREAM_REGEN=1 rewrites those files). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/pipeline.h"
#include "vpnscope/report.h"

/* The stream of one run (`args` as on the command line, captures relative to pcaps/), malloc'ed;
 * NULL when the captures are missing. */
static char *stream_of(const char *args)
{
    const char *src = getenv("VPNSCOPE_SRC");
    if (!src)
        src = ".";
    char line[1024];
    char *argv[24];
    int argc = 0;
    argv[argc++] = "vpnscope";
    snprintf(line, sizeof(line), "%s", args);
    static char paths[24][1024];
    for (char *tok = strtok(line, " "); tok && argc < 23; tok = strtok(NULL, " ")) {
        if (strstr(tok, ".pcap")) {
            snprintf(paths[argc], sizeof(paths[argc]), "%s/pcaps/%s", src, tok);
            argv[argc] = paths[argc];
            argc++;
        } else {
            argv[argc++] = tok;
        }
    }
    argv[argc] = NULL;
    struct vpnscope_config cfg;
    config_defaults(&cfg);
    if (config_parse(&cfg, argc, argv) != 0)
        return NULL;
    /* the stream is the live report: one thread steps the pipeline as live capture does (two
     * files on side threads run ahead of the steps, so a snapshot mid-run would not be the
     * live one's) */
    cfg.threads = 1;
    char err[512] = "";
    struct pipeline *p = pipeline_open(&cfg, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "test_stream: %s: %s\n", args, err);
        config_free(&cfg);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct stream *s = out ? stream_new(out, cfg.json, &cfg.to) : NULL;
    if (!s) {
        if (out)
            fclose(out);
        free(buf);
        pipeline_close(p);
        config_free(&cfg);
        return NULL;
    }
    uint64_t next = 0;
    while (!pipeline_ended(p)) {
        int wait = -1;
        pipeline_step(p, 0.0, &wait); /* 32 packets a step */
        if (pipeline_ended(p))
            break;
        const struct pipeline_snapshot *snap = pipeline_snapshot(p);
        if (snap->now_us && snap->now_us >= next) {
            stream_scan(s, pipeline_analyze(p));
            next = snap->now_us + 1000000u;
        }
    }
    CHECK(pipeline_finish(p, err, sizeof(err)) == 0);
    stream_final(s, pipeline_snapshot(p));
    stream_free(s);
    pipeline_close(p);
    config_free(&cfg);
    fclose(out);
    return buf;
}

/* Copies the line at *l into tmp (cut at its size), moves *l to the next line; false at the end. */
static bool next_line(const char **l, char *tmp, size_t size, size_t *len)
{
    if (!*l || !**l)
        return false;
    const char *e = strchr(*l, '\n');
    *len = e ? (size_t)(e - *l) : strlen(*l);
    size_t k = *len < size - 1 ? *len : size - 1;
    memcpy(tmp, *l, k);
    tmp[k] = 0;
    *l = e ? e + 1 : NULL;
    return true;
}

/* Lines of `text` containing every one of the (up to 3) strings. */
static unsigned count_lines(const char *text, const char *a, const char *b, const char *c)
{
    unsigned n = 0;
    char tmp[4096];
    size_t len;
    for (const char *l = text; next_line(&l, tmp, sizeof(tmp), &len);)
        if (strstr(tmp, a) && (!b || strstr(tmp, b)) && (!c || strstr(tmp, c)))
            n++;
    return n;
}

/* Offset of the first line with both strings, or -1. */
static long line_at(const char *text, const char *a, const char *b)
{
    long off = 0;
    char tmp[4096];
    size_t len;
    for (const char *l = text; next_line(&l, tmp, sizeof(tmp), &len); off += (long)len + 1)
        if (strstr(tmp, a) && strstr(tmp, b))
            return off;
    return -1;
}

/* The text stream of `args` has exactly one line containing `line`. */
static void text_line_once(const char *args, const char *line)
{
    char *t = stream_of(args);
    CHECK(t != NULL);
    if (t)
        CHECK_EQ(count_lines(t, line, NULL, NULL), 1);
    free(t);
}

static void test_wireguard(void)
{
    char *j = stream_of("-r wg_healthy-inside.pcap --json");
    CHECK(j != NULL);
    if (!j)
        return;
    /* one session, established once, with the fields of the report record and no extension */
    CHECK_EQ(count_lines(j, "\"type\":\"wg_session\",\"event\":\"established\"", NULL, NULL), 1);
    CHECK_EQ(count_lines(j, "\"type\":\"wg_session\"", "\"capture\":\"single\"",
                         "\"initiator\":{\"ip\":\"192.168.3.11\",\"port\":40000}"),
             count_lines(j, "\"type\":\"wg_session\"", NULL, NULL));
    CHECK_EQ(count_lines(j, "\"type\":\"wg_session\"", "\"initiator_index\":\"0xeaebbdaf\"",
                         "\"responder_index\":\"0x6c08603b\""),
             1);
    CHECK_EQ(count_lines(j, "\"type\":\"wg_session\"", "endpoint_changes_total", NULL), 0);
    CHECK_EQ(count_lines(j, "\"type\":\"wg_session\"", "\"event\":\"ended\"", NULL), 0);
    free(j);

    /* the text line: capture point, endpoints, index pair, packets each way */
    text_line_once("-r wg_healthy-inside.pcap",
                   "established wg_session single 192.168.3.11:40000 "
                   "-> 203.0.113.10:51820 index 0xeaebbdaf/0x6c08603b");

    /* two captures: each side streams its own session record */
    char *p = stream_of("--inside wg_healthy-inside.pcap --outside wg_healthy-outside.pcap --json");
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ(count_lines(p, "\"type\":\"wg_session\",\"event\":\"established\"",
                             "\"capture\":\"inside\"", NULL),
                 1);
        CHECK_EQ(count_lines(p, "\"type\":\"wg_session\",\"event\":\"established\"",
                             "\"capture\":\"outside\"", "\"ip\":\"203.0.113.1\""),
                 1);
    }
    free(p);
}

static void test_openvpn(void)
{
    /* the restarted client: the first session idles out (5 s), the new one is established */
    char *j = stream_of("-r ovpn_stale_restart-outside.pcap --json --nat-udp-stream-timeout 5");
    CHECK(j != NULL);
    if (!j)
        return;
    const char *old = "\"session_id\":\"fb58d3f3c82ce54e\"";
    const char *neu = "\"session_id\":\"fd935648786404da\"";
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\",\"event\":\"established\"", old, NULL), 1);
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\",\"event\":\"established\"", neu, NULL), 1);
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\",\"event\":\"ended\"", old, "\"timeout\":5}"),
             1);
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\",\"event\":\"ended\"", neu, NULL), 0);
    long up = line_at(j, "\"type\":\"ovpn_session\",\"event\":\"established\"", old);
    long end = line_at(j, "\"type\":\"ovpn_session\",\"event\":\"ended\"", old);
    CHECK(up >= 0 && end > up);
    /* established at the session's start, ended at its last packet plus the timeout */
    CHECK_EQ(count_lines(j, "\"event\":\"established\",\"ts\":\"2026-12-03T09:40:54.438338Z\"", old,
                         "\"first_ts\":\"2026-12-03T09:40:54.438338Z\""),
             1);
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\"", "\"transport\":\"udp\"", NULL),
             count_lines(j, "\"type\":\"ovpn_session\"", NULL, NULL));
    CHECK_EQ(count_lines(j, "\"type\":\"ovpn_session\"", "\"soft_resets\"", NULL), 0);
    free(j);

    /* with the default timeout (120 s) nothing ends; the final scan updates what changed */
    char *d = stream_of("-r ovpn_stale_restart-outside.pcap --json");
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(count_lines(d, "\"type\":\"ovpn_session\",\"event\":\"ended\"", NULL, NULL), 0);
        CHECK_EQ(count_lines(d, "\"type\":\"ovpn_session\",\"event\":\"established\"", NULL, NULL),
                 2);
    }
    free(d);

    /* OpenVPN over TCP */
    text_line_once("-r ovpn_tcp-inside.pcap", "established ovpn_session single tcp "
                                              "192.168.3.11:40676 -> 203.0.113.10:1194 session_id "
                                              "2cb818ae2b15947a");
}

/* The whole stream against tests/golden/stream/NAME. */
static void golden(const char *name, const char *args)
{
    const char *src = getenv("VPNSCOPE_SRC");
    if (!src)
        src = ".";
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/golden/stream/%s", src, name);
    char *got = stream_of(args);
    CHECK(got != NULL && got[0]);
    if (!got)
        return;
    if (getenv("VPNSCOPE_STREAM_REGEN")) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs(got, f);
            fclose(f);
        }
        free(got);
        return;
    }
    FILE *f = fopen(path, "r");
    CHECK(f != NULL); /* a missing expected file fails */
    char *want = NULL;
    size_t wl = 0;
    if (f) {
        FILE *m = open_memstream(&want, &wl);
        int c;
        while (m && (c = fgetc(f)) != EOF)
            fputc(c, m);
        if (m)
            fclose(m);
        fclose(f);
    }
    bool same = want && strcmp(want, got) == 0;
    if (!same)
        fprintf(stderr, "test_stream: %s differs from %s\n", args, path);
    CHECK(same);
    free(want);
    free(got);
}

int main(void)
{
    test_wireguard();
    test_openvpn();
    golden("esp_collision-dual.jsonl",
           "--inside esp_collision-inside.pcap --outside esp_collision-outside.pcap --json");
    golden("esp_collision-dual.txt",
           "--inside esp_collision-inside.pcap --outside esp_collision-outside.pcap");
    golden("ah_nat-inside.jsonl", "-r ah_nat-inside.pcap --json");
    golden("pptp_helper-dual.jsonl",
           "--inside pptp_helper-inside.pcap --outside pptp_helper-outside.pcap --json");
    golden("pptp_helper-dual.txt",
           "--inside pptp_helper-inside.pcap --outside pptp_helper-outside.pcap");
    golden("wg_state_lost-dual.jsonl",
           "--inside wg_state_lost-inside.pcap --outside wg_state_lost-outside.pcap --json");
    golden("wg_state_lost-outside.txt", "-r wg_state_lost-outside.pcap");
    golden("ovpn_stale_restart-outside.jsonl",
           "-r ovpn_stale_restart-outside.pcap --json --nat-udp-stream-timeout 5");
    golden("ovpn_stale_restart-outside.txt",
           "-r ovpn_stale_restart-outside.pcap --nat-udp-stream-timeout 5");
    return t_done();
}
