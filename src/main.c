/* main.c - command line -> configuration -> batch report, two-capture correlation, dashboard or
 * live monitoring. The only file that calls exit(). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "vpnscope/capture.h"
#include "vpnscope/classify.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/detect.h"
#include "vpnscope/engine.h"
#include "vpnscope/nat.h"
#include "vpnscope/report.h"
#include "vpnscope/ui.h"

#define MAX_FILES 64

static void usage(FILE *out)
{
    fputs("Usage: vpnscope -r FILE [-r FILE...] [options] [BPF expression]\n"
          "       vpnscope --inside FILE --outside FILE [options] [BPF]\n"
          "       vpnscope --router FILE [options] [BPF]\n"
          "       vpnscope -i IF | --inside-if IF --outside-if IF [options] [BPF]\n"
          "\n"
          "Finds why a VPN is unstable behind NAT: decodes IKEv1/IKEv2, NAT-T, ESP, AH, PPTP/GRE "
          "and\n"
          "L2TP (other flows labelled by nDPI), reconstructs NAT mappings from captures taken "
          "inside and\n"
          "outside a router, and reports what breaks VPN passthrough with cause, evidence and "
          "remedy.\n"
          "\n"
          "Input:\n"
          "  -r FILE            read a pcap/pcapng file; several -r are consecutive pieces of one "
          "capture\n"
          "  --inside FILE      capture taken inside (LAN side of) the NAT router (repeatable "
          "pieces)\n"
          "  --outside FILE     capture taken outside (WAN side of) the NAT router (repeatable "
          "pieces)\n"
          "  --router FILE      one capture on the router on all interfaces (tcpdump -i any)\n"
          "  -i IF              live capture on interface IF\n"
          "  --inside-if IF, --outside-if IF   live capture on both sides of a router\n"
          "  -c N               stop after N packets (per input)\n"
          "Output:\n"
          "  --json             JSON Lines instead of the text report\n"
          "  --all-flows        list every flow, not only VPN flows\n"
          "  --side inside|outside   which side of a NAT a single capture was taken on (default: "
          "inferred)\n"
          "  --nat-addr IP      the router's outside address (repeatable; default: learned)\n"
          "  --ui               replay captures into the dashboard\n"
          "  --speed N          replay speed: 1 = capture speed, 0 = as fast as possible (default "
          "1)\n"
          "  --refresh MS       dashboard refresh period (default 500)\n"
          "  -w FILE|PREFIX     save captured packets (live)\n"
          "  -Z USER            drop privileges to USER after opening interfaces\n"
          "NAT timeouts in seconds (Linux conntrack defaults):\n"
          "  --nat-udp-timeout 30  --nat-udp-stream-timeout 120  --nat-tcp-timeout 432000\n"
          "  --nat-gre-timeout 180 --nat-other-timeout 600\n"
          "  -h, --help         this help        -V, --version   version\n"
          "\n"
          "Exit status: 0 no finding of severity warning or error, 1 such findings, 2 usage or "
          "input error.\n",
          out);
}

enum {
    OPT_INSIDE = 1000,
    OPT_OUTSIDE,
    OPT_ROUTER,
    OPT_INSIDE_IF,
    OPT_OUTSIDE_IF,
    OPT_JSON,
    OPT_ALL_FLOWS,
    OPT_SIDE,
    OPT_NAT_ADDR,
    OPT_UI,
    OPT_SPEED,
    OPT_REFRESH,
    OPT_MAX_FRAMES,
    OPT_TO_UDP,
    OPT_TO_UDP_STREAM,
    OPT_TO_TCP,
    OPT_TO_GRE,
    OPT_TO_OTHER,
    OPT_NO_NDPI,
    OPT_NO_PROGRESS
};

static int die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "vpnscope: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "Try 'vpnscope --help' for more information.\n");
    return 2;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > 0xffffffffu)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_ip(const char *s, struct ip_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->a) == 1) {
        a->v = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, a->a) == 1) {
        a->v = 6;
        return true;
    }
    return false;
}

static char *join_args(int argc, char **argv)
{
    if (argc <= 0)
        return NULL;
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Reads one capture point into an engine. Returns 0, or 2 after printing the error. */
static int read_point(struct engine *e, const char *const *files, int n, const char *bpf,
                      long count, bool progress)
{
    char err[VPNSCOPE_ERRBUF_SIZE * 2];
    struct cap_src *s = cap_open_files(files, n, bpf, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "vpnscope: %s\n", err);
        return 2;
    }
    if (!decode_dlt_supported(cap_dlt(s))) {
        const char *dn = pcap_datalink_val_to_name(cap_dlt(s));
        const char *dd = pcap_datalink_val_to_description(cap_dlt(s));
        fprintf(stderr,
                "vpnscope: %s: unsupported link type %s (%s, DLT %d); vpnscope reads Ethernet, "
                "Linux cooked (SLL/SLL2), raw IP and BSD loopback\n",
                files[0], dn ? dn : link_dlt_name(cap_dlt(s)), dd ? dd : "no description",
                cap_dlt(s));
        cap_close(s);
        return 2;
    }
    uint64_t total = cap_total_bytes(s);
    progress = progress && total > (64u << 20);
    struct raw_pkt raw;
    long seen = 0;
    int rc;
    while (!g_stop && (rc = cap_next(s, &raw, err, sizeof(err))) == 1) {
        engine_packet(e, &raw);
        seen++;
        if (progress && (seen & 0xfffff) == 0) {
            fprintf(stderr, "\rvpnscope: %3.0f%% (%ld packets)",
                    100.0 * (double)cap_bytes_read(s) / (double)total, seen);
        }
        if (count > 0 && seen >= count)
            break;
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    if (rc == -1) {
        fprintf(stderr, "vpnscope: %s\n", err);
        cap_close(s);
        return 2;
    }
    if (rc == 3)
        fprintf(stderr, "vpnscope: warning: %s\n", err);
    cap_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *files[MAX_FILES + 1] = {0}, *inside[MAX_FILES + 1] = {0},
                                  *outside[MAX_FILES + 1] = {0};
    int nfiles = 0, ninside = 0, noutside = 0;
    const char *router = NULL, *iface = NULL, *inside_if = NULL, *outside_if = NULL, *wpath = NULL,
               *zuser = NULL;
    bool json = false, all_flows = false, ui = false, no_ndpi = false, side_given = false;
    bool no_progress = false;
    uint8_t side = SIDE_SINGLE;
    double speed = 1.0;
    uint32_t refresh = 500;
    long max_frames = -1, count = -1;
    struct nat_timeouts to = {NAT_UDP_TIMEOUT, NAT_UDP_STREAM_TIMEOUT, NAT_TCP_TIMEOUT,
                              NAT_GRE_TIMEOUT, NAT_OTHER_TIMEOUT};
    struct ip_addr nat_addrs[8];
    int n_nat_addrs = 0;

    static const struct option lo[] = {
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"inside", required_argument, 0, OPT_INSIDE},
        {"outside", required_argument, 0, OPT_OUTSIDE},
        {"router", required_argument, 0, OPT_ROUTER},
        {"inside-if", required_argument, 0, OPT_INSIDE_IF},
        {"outside-if", required_argument, 0, OPT_OUTSIDE_IF},
        {"json", no_argument, 0, OPT_JSON},
        {"all-flows", no_argument, 0, OPT_ALL_FLOWS},
        {"side", required_argument, 0, OPT_SIDE},
        {"nat-addr", required_argument, 0, OPT_NAT_ADDR},
        {"ui", no_argument, 0, OPT_UI},
        {"speed", required_argument, 0, OPT_SPEED},
        {"refresh", required_argument, 0, OPT_REFRESH},
        {"max-frames", required_argument, 0, OPT_MAX_FRAMES},
        {"nat-udp-timeout", required_argument, 0, OPT_TO_UDP},
        {"nat-udp-stream-timeout", required_argument, 0, OPT_TO_UDP_STREAM},
        {"nat-tcp-timeout", required_argument, 0, OPT_TO_TCP},
        {"nat-gre-timeout", required_argument, 0, OPT_TO_GRE},
        {"nat-other-timeout", required_argument, 0, OPT_TO_OTHER},
        {"no-ndpi", no_argument, 0, OPT_NO_NDPI},
        {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+r:i:c:w:Z:hV", lo, NULL)) != -1) {
        uint32_t v;
        switch (c) {
        case 'r':
            if (nfiles >= MAX_FILES)
                return die_usage("too many -r files", NULL);
            files[nfiles++] = optarg;
            break;
        case OPT_INSIDE:
            if (ninside >= MAX_FILES)
                return die_usage("too many --inside files", NULL);
            inside[ninside++] = optarg;
            break;
        case OPT_OUTSIDE:
            if (noutside >= MAX_FILES)
                return die_usage("too many --outside files", NULL);
            outside[noutside++] = optarg;
            break;
        case OPT_ROUTER:
            router = optarg;
            break;
        case 'i':
            iface = optarg;
            break;
        case OPT_INSIDE_IF:
            inside_if = optarg;
            break;
        case OPT_OUTSIDE_IF:
            outside_if = optarg;
            break;
        case 'c': {
            uint32_t n;
            if (!parse_u32(optarg, &n) || n == 0)
                return die_usage("-c needs a positive number", optarg);
            count = n;
            break;
        }
        case 'w':
            wpath = optarg;
            break;
        case 'Z':
            zuser = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_ALL_FLOWS:
            all_flows = true;
            break;
        case OPT_SIDE:
            if (strcmp(optarg, "inside") == 0)
                side = SIDE_INSIDE;
            else if (strcmp(optarg, "outside") == 0)
                side = SIDE_OUTSIDE;
            else
                return die_usage("--side takes inside or outside", optarg);
            side_given = true;
            break;
        case OPT_NAT_ADDR:
            if (n_nat_addrs >= 8)
                return die_usage("at most 8 --nat-addr", NULL);
            if (!parse_ip(optarg, &nat_addrs[n_nat_addrs]))
                return die_usage("--nat-addr needs an IP address", optarg);
            n_nat_addrs++;
            break;
        case OPT_UI:
            ui = true;
            break;
        case OPT_SPEED: {
            char *end;
            speed = strtod(optarg, &end);
            if (*end || speed < 0)
                return die_usage("--speed needs a number >= 0", optarg);
            break;
        }
        case OPT_REFRESH:
            if (!parse_u32(optarg, &refresh) || refresh < 10)
                return die_usage("--refresh needs milliseconds >= 10", optarg);
            break;
        case OPT_MAX_FRAMES:
            if (!parse_u32(optarg, &v))
                return die_usage("--max-frames needs a number", optarg);
            max_frames = v;
            break;
        case OPT_TO_UDP:
        case OPT_TO_UDP_STREAM:
        case OPT_TO_TCP:
        case OPT_TO_GRE:
        case OPT_TO_OTHER:
            if (!parse_u32(optarg, &v) || v == 0)
                return die_usage("timeouts need a positive number of seconds", optarg);
            if (c == OPT_TO_UDP)
                to.udp = v;
            else if (c == OPT_TO_UDP_STREAM)
                to.udp_stream = v;
            else if (c == OPT_TO_TCP)
                to.tcp = v;
            else if (c == OPT_TO_GRE)
                to.gre = v;
            else
                to.other = v;
            break;
        case OPT_NO_NDPI:
            no_ndpi = true;
            break;
        case OPT_NO_PROGRESS:
            no_progress = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("vpnscope %s\n%s\n%s\n", VPNSCOPE_VERSION, pcap_lib_version(),
                   classify_version());
            return 0;
        default:
            if (optopt)
                return die_usage("unknown or incomplete option", argv[optind - 1]);
            return die_usage("unknown option", argv[optind - 1]);
        }
    }
    char *bpf = join_args(argc - optind, argv + optind);

    bool dual_files = ninside || noutside;
    bool live = iface || inside_if || outside_if;
    int modes = (nfiles > 0) + (dual_files ? 1 : 0) + (router != NULL) + (live ? 1 : 0);
    if (modes == 0) {
        free(bpf);
        return die_usage("no input: give -r FILE, --inside/--outside, --router or -i IF", NULL);
    }
    if (modes > 1) {
        free(bpf);
        return die_usage("-r, --inside/--outside, --router and live capture are exclusive", NULL);
    }
    if (dual_files && (!ninside || !noutside)) {
        free(bpf);
        return die_usage("--inside and --outside go together", NULL);
    }
    if ((inside_if || outside_if) && (!inside_if || !outside_if || iface)) {
        free(bpf);
        return die_usage("--inside-if and --outside-if go together (without -i)", NULL);
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    if (ui || live) {
        struct ui_opts uo;
        memset(&uo, 0, sizeof(uo));
        uo.files = nfiles ? files : NULL;
        uo.inside = ninside ? inside : NULL;
        uo.outside = noutside ? outside : NULL;
        uo.iface = iface;
        uo.inside_if = inside_if;
        uo.outside_if = outside_if;
        uo.bpf = bpf;
        uo.speed = speed;
        uo.refresh_ms = refresh;
        uo.max_frames = max_frames;
        uo.write_path = wpath;
        uo.drop_user = zuser;
        uo.json = json;
        uo.dashboard = ui || (isatty(STDOUT_FILENO) && !json);
        uo.count = count;
        uo.to = to;
        uo.side = side;
        uo.side_given = side_given;
        if (router) {
            free(bpf);
            return die_usage("--router is not supported with --ui yet", NULL);
        }
#ifdef VPNSCOPE_HAVE_UI
        int rc = ui_run(&uo);
#else
        (void)uo;
        fprintf(stderr,
                "vpnscope: built without the dashboard and live capture (VPNSCOPE_WITH_UI=OFF)\n");
        int rc = 2;
#endif
        free(bpf);
        return rc;
    }

    struct engine_opts eo = {.no_ndpi = no_ndpi, .all_protocols = all_flows};
    char err[VPNSCOPE_ERRBUF_SIZE * 2] = "";
    struct engine *e1 = NULL, *e2 = NULL;
    struct nat_result nat;
    memset(&nat, 0, sizeof(nat));
    bool have_nat = false;
    int rc = 0;
    bool progress = !no_progress && isatty(STDERR_FILENO);

    if (nfiles) {
        e1 = engine_new(side_given ? side : SIDE_SINGLE, &eo, err, sizeof(err));
        if (!e1) {
            fprintf(stderr, "vpnscope: %s\n", err);
            free(bpf);
            return 2;
        }
        rc = read_point(e1, files, nfiles, bpf, count, progress);
        if (rc) {
            engine_free(e1);
            free(bpf);
            return rc;
        }
        engine_finish(e1);
        struct session_model *m = engine_model(e1);
        if (!side_given)
            m->side = SIDE_SINGLE;
    } else {
        struct nat_run_opts no;
        memset(&no, 0, sizeof(no));
        no.inside = inside;
        no.n_inside = ninside;
        no.outside = outside;
        no.n_outside = noutside;
        no.router = router;
        no.bpf = bpf;
        memcpy(no.nat_addrs, nat_addrs, sizeof(nat_addrs));
        no.n_nat_addrs = n_nat_addrs;
        no.no_ndpi = no_ndpi;
        no.all_protocols = all_flows;
        if (nat_run(&no, &e1, &e2, &nat, err, sizeof(err)) != 0) {
            fprintf(stderr, "vpnscope: %s\n", err);
            engine_free(e1);
            engine_free(e2);
            nat_result_free(&nat);
            free(bpf);
            return 2;
        }
        have_nat = true;
        if (nat.message[0])
            fprintf(stderr, "vpnscope: %s\n", nat.message);
    }

    struct finding_list fl = {0};
    struct detect_ctx dc;
    memset(&dc, 0, sizeof(dc));
    dc.to = to;
    dc.out = &fl;
    if (have_nat) {
        dc.inside = engine_model(e1);
        dc.outside = engine_model(e2);
        dc.nat = &nat;
    } else {
        dc.single = engine_model(e1);
    }
    detect_run(&dc);

    struct report_input ri;
    memset(&ri, 0, sizeof(ri));
    ri.models[0] = engine_model(e1);
    ri.n_models = 1;
    const char *const router_list[2] = {router, NULL};
    if (have_nat) {
        ri.models[1] = engine_model(e2);
        ri.n_models = 2;
        ri.captures[0] = router ? router_list : inside;
        ri.captures[1] = router ? router_list : outside;
        ri.nat = &nat;
    } else {
        ri.captures[0] = files;
    }
    ri.findings = &fl;
    ri.all_flows = all_flows;
    ri.side_given = side_given;
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf)); /* the report is written in one go */
    if (json)
        report_json(stdout, &ri);
    else
        report_text(stdout, &ri);
    fflush(stdout);
    rc = finding_list_max_severity(&fl) >= SEV_WARNING ? 1 : 0;
    if (ferror(stdout)) {
        fprintf(stderr, "vpnscope: error writing the report\n");
        rc = 2;
    }
    finding_list_free(&fl);
    nat_result_free(&nat);
    engine_free(e1);
    engine_free(e2);
    free(bpf);
    (void)wpath;
    (void)zuser;
    (void)refresh;
    (void)max_frames;
    return rc;
}
