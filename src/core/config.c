/* config.c - the command line parsed and validated once into struct vpnscope_config. */
#include "vpnscope/pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnscope/capture.h"
#include "vpnscope/config.h"

#define VPNSCOPE_MAX_BUFFER_KIB 2097151u /* below 2 GiB: pcap_set_buffer_size takes an int */

void config_usage(FILE *out)
{
    fputs(
        "Usage: vpnscope -r FILE [-r FILE...] [options] [BPF expression]\n"
        "       vpnscope --inside FILE --outside FILE [options] [BPF]\n"
        "       vpnscope --router FILE [options] [BPF]\n"
        "       vpnscope -i IF | --inside-if IF --outside-if IF [options] [BPF]\n"
        "       vpnscope --batch PATH... [-j N] [options] [BPF]\n"
        "       vpnscope -D\n"
        "\n"
        "Finds why a VPN is unstable behind NAT: decodes IKEv1/IKEv2, NAT-T, ESP, AH, PPTP/GRE "
        "and\n"
        "L2TP (other flows labelled by nDPI), reconstructs NAT mappings from captures taken "
        "inside and\n"
        "outside a router, and reports what breaks VPN passthrough with cause, evidence and "
        "remedy.\n"
        "Options may come before or after the BPF expression (the words that are not options); "
        "'--'\n"
        "ends the options.\n"
        "\n"
        "Input:\n"
        "  -r FILE            read a pcap/pcapng file (gzip/zstd too; '-' = standard input); "
        "several\n"
        "                     -r are consecutive pieces of one capture\n"
        "  --inside FILE      capture taken inside (LAN side of) the NAT router (repeatable "
        "pieces)\n"
        "  --outside FILE     capture taken outside (WAN side of) the NAT router (repeatable "
        "pieces)\n"
        "  --router FILE      one capture on the router on all interfaces (tcpdump -i any)\n"
        "  -i IF              live capture on interface IF\n"
        "  --inside-if IF, --outside-if IF   live capture on both sides of a router\n"
        "  --batch PATH...    analyse each capture on its own: files, and directories walked for\n"
        "                     captures (by magic bytes); the words after the options that name\n"
        "                     existing paths are more PATHs, the BPF expression starts after them\n"
        "  -j N               --batch: captures analysed at a time (default: number of "
        "processors)\n"
        "  -c N               stop after N packets that pass the filter (per input)\n"
        "  -n, -nn            accepted for tcpdump habits (addresses are never resolved)\n"
        "  -D                 list the capture interfaces, as tcpdump -D\n"
        "  --threads N        threads (default: the number of cores; 1 = one thread): the two\n"
        "                     captures of --inside/--outside on a thread each; the output is the\n"
        "                     same whatever N\n"
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
        "  --max-frames N     dashboard: end after N redraws (scripted runs)\n"
        "  --no-ndpi          do not label other flows with nDPI\n"
        "  --no-progress      no progress line on stderr (shown on a terminal for long runs)\n"
        "  -w FILE|PREFIX     save the packets that pass the filter (pcap; PREFIX-inside.pcap and\n"
        "                     PREFIX-outside.pcap with two capture points)\n"
        "  -C SIZE            -w: a new file once the current one exceeds SIZE million bytes\n"
        "                     (FILE, FILE1, FILE2, ...)\n"
        "  -G SECONDS         -w: a new file every SECONDS of packet time (FILE is a strftime "
        "format)\n"
        "  -W COUNT           -w: with -C, a ring of COUNT files; with -G, stop after COUNT "
        "files\n"
        "  -Z USER            live: drop privileges to USER after opening interfaces\n"
        "  -B KiB             live: the kernel capture buffer per interface, in KiB (as\n"
        "                     tcpdump -B; default 65536, 64 MiB)\n"
        "  --export DIR       one pcapng per finding (its packets, commented) and "
        "DIR/index.jsonl\n"
        "                     (dashboard: x writes the selected finding's, default\n"
        "                     ./vpnscope-export-<capture name>/)\n"
        "  --html FILE        a self-contained HTML report with per-tunnel timelines\n"
        "  --min-severity info|warning|error   report only findings at least this severe\n"
        "NAT timeouts in seconds (Linux conntrack defaults):\n"
        "  --nat-udp-timeout 30  --nat-udp-stream-timeout 120  --nat-tcp-timeout 432000\n"
        "  --nat-gre-timeout 180 --nat-other-timeout 600\n"
        "  -h, --help         this help        -V, --version   version\n"
        "\n"
        "Exit status: 0 no finding of severity warning or error, 1 such findings, 2 usage or "
        "input error\n"
        "(--batch: the worst of the captures').\n",
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
    OPT_NO_PROGRESS,
    OPT_EXPORT,
    OPT_HTML,
    OPT_MIN_SEVERITY,
    OPT_BATCH,
    OPT_THREADS
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

static const struct option long_opts[] = {
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
    {"export", required_argument, 0, OPT_EXPORT},
    {"html", required_argument, 0, OPT_HTML},
    {"min-severity", required_argument, 0, OPT_MIN_SEVERITY},
    {"batch", required_argument, 0, OPT_BATCH},
    {"threads", required_argument, 0, OPT_THREADS},
    {0, 0, 0, 0},
};

/* Input options. 0 done, 1 not an input option, 2 usage error (printed). */
static int parse_input(struct vpnscope_config *c, int opt, const char *arg)
{
    uint32_t n;
    switch (opt) {
    case 'r':
        if (c->nfiles >= VPNSCOPE_MAX_FILES)
            return die_usage("too many -r files", NULL);
        c->files[c->nfiles++] = arg;
        return 0;
    case OPT_INSIDE:
        if (c->ninside >= VPNSCOPE_MAX_FILES)
            return die_usage("too many --inside files", NULL);
        c->inside[c->ninside++] = arg;
        return 0;
    case OPT_OUTSIDE:
        if (c->noutside >= VPNSCOPE_MAX_FILES)
            return die_usage("too many --outside files", NULL);
        c->outside[c->noutside++] = arg;
        return 0;
    case OPT_ROUTER:
        c->router = arg;
        return 0;
    case 'i':
        c->iface = arg;
        return 0;
    case OPT_INSIDE_IF:
        c->inside_if = arg;
        return 0;
    case OPT_OUTSIDE_IF:
        c->outside_if = arg;
        return 0;
    case 'c':
        if (!parse_u32(arg, &n) || n == 0)
            return die_usage("-c needs a positive number", arg);
        c->count = n;
        return 0;
    case OPT_SIDE:
        if (strcmp(arg, "inside") == 0)
            c->side = SIDE_INSIDE;
        else if (strcmp(arg, "outside") == 0)
            c->side = SIDE_OUTSIDE;
        else
            return die_usage("--side takes inside or outside", arg);
        c->side_given = true;
        return 0;
    case OPT_NAT_ADDR:
        if (c->n_nat_addrs >= 8)
            return die_usage("at most 8 --nat-addr", NULL);
        if (!parse_ip(arg, &c->nat_addrs[c->n_nat_addrs]))
            return die_usage("--nat-addr needs an IP address", arg);
        c->n_nat_addrs++;
        return 0;
    default:
        return 1;
    }
}

/* Output, replay and timeout options. 0 done, 1 not one of them, 2 usage error (printed). */
static int parse_output(struct vpnscope_config *c, int opt, const char *arg)
{
    uint32_t v;
    char *end;
    switch (opt) {
    case 'w':
        c->write_path = arg;
        return 0;
    case 'Z':
        c->drop_user = arg;
        return 0;
    case 'B':
        /* pcap_set_buffer_size takes an int of bytes */
        if (!parse_u32(arg, &v) || v < 64 || v > VPNSCOPE_MAX_BUFFER_KIB)
            return die_usage("-B needs a buffer size in KiB from 64 to 2097151", arg);
        c->buffer_kib = v;
        return 0;
    case OPT_JSON:
        c->json = true;
        return 0;
    case OPT_ALL_FLOWS:
        c->all_flows = true;
        return 0;
    case OPT_UI:
        c->mode = MODE_DASHBOARD;
        return 0;
    case OPT_SPEED:
        c->speed = strtod(arg, &end);
        if (*end || c->speed < 0)
            return die_usage("--speed needs a number >= 0", arg);
        return 0;
    case OPT_REFRESH:
        if (!parse_u32(arg, &c->refresh_ms) || c->refresh_ms < 10)
            return die_usage("--refresh needs milliseconds >= 10", arg);
        return 0;
    case OPT_MAX_FRAMES:
        if (!parse_u32(arg, &v))
            return die_usage("--max-frames needs a number", arg);
        c->max_frames = v;
        return 0;
    case OPT_TO_UDP:
    case OPT_TO_UDP_STREAM:
    case OPT_TO_TCP:
    case OPT_TO_GRE:
    case OPT_TO_OTHER:
        if (!parse_u32(arg, &v) || v == 0)
            return die_usage("timeouts need a positive number of seconds", arg);
        if (opt == OPT_TO_UDP)
            c->to.udp = v;
        else if (opt == OPT_TO_UDP_STREAM)
            c->to.udp_stream = v;
        else if (opt == OPT_TO_TCP)
            c->to.tcp = v;
        else if (opt == OPT_TO_GRE)
            c->to.gre = v;
        else
            c->to.other = v;
        return 0;
    case OPT_NO_NDPI:
        c->no_ndpi = true;
        return 0;
    case OPT_NO_PROGRESS:
        c->no_progress = true;
        return 0;
    case OPT_THREADS:
        if (!parse_u32(arg, &v) || v == 0 || v > 64)
            return die_usage("--threads needs a number from 1 to 64", arg);
        c->threads = (int)v;
        return 0;
    default:
        return 1;
    }
}

/* Evidence options. 0 done, 1 not one of them, 2 usage error (printed). */
static int parse_evidence(struct vpnscope_config *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_EXPORT:
        if (!arg[0])
            return die_usage("--export needs a directory", NULL);
        c->export_dir = arg;
        return 0;
    case OPT_HTML:
        if (!arg[0])
            return die_usage("--html needs a file name", NULL);
        c->html_path = arg;
        return 0;
    case OPT_MIN_SEVERITY:
        if (strcmp(arg, "info") == 0)
            c->min_severity = SEV_INFO;
        else if (strcmp(arg, "warning") == 0)
            c->min_severity = SEV_WARNING;
        else if (strcmp(arg, "error") == 0)
            c->min_severity = SEV_ERROR;
        else
            return die_usage("--min-severity takes info, warning or error", arg);
        return 0;
    default:
        return 1;
    }
}

/* tcpdump's flags and --batch. 0 done, 1 not one of them, 2 usage error (printed). */
static int parse_tcpdump(struct vpnscope_config *c, int opt, const char *arg)
{
    uint32_t v;
    switch (opt) {
    case 'n':
        return 0; /* addresses are never resolved */
    case 'D':
        c->action = CFG_LIST_IFACES;
        return 0;
    case 'j':
        if (!parse_u32(arg, &v) || v == 0 || v > 1024)
            return die_usage("-j needs a number from 1 to 1024", arg);
        c->jobs = (int)v;
        return 0;
    case 'C':
        if (!parse_u32(arg, &v) || v == 0 || v > 1000000)
            return die_usage("-C needs a size in millions of bytes (1 to 1000000)", arg);
        c->rotate_bytes = (uint64_t)v * 1000000u;
        return 0;
    case 'G':
        if (!parse_u32(arg, &v) || v == 0)
            return die_usage("-G needs a positive number of seconds", arg);
        c->rotate_secs = v;
        return 0;
    case 'W':
        if (!parse_u32(arg, &v) || v == 0 || v > 100000)
            return die_usage("-W needs a file count from 1 to 100000", arg);
        c->max_files = v;
        return 0;
    case OPT_BATCH:
        c->batch = true;
        c->batch_paths[c->nbatch++] = arg;
        return 0;
    default:
        return 1;
    }
}

/* A path that names something on the file system (--batch: where the BPF words begin). */
static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Two-capture modes read each capture twice (clock or split pass first): standard input, pipes
 * and FIFOs cannot be. 0 or 2 (printed). A path that does not exist is left to the open. */
static int check_rereadable(const char *opt, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(paths[i], "-") != 0 && !path_exists(paths[i]))
            continue;
        if (cap_path_rereadable(paths[i]))
            continue;
        fprintf(stderr,
                "vpnscope: %s %s: two-capture modes read each capture twice (a first pass "
                "finds the clock or the interfaces); standard input, pipes and FIFOs can only "
                "be read once: save the capture to a file\n",
                opt, strcmp(paths[i], "-") == 0 ? "- (standard input)" : paths[i]);
        return 2;
    }
    return 0;
}

/* --batch: no other input, no -w; -C/-G/-W only with -w; -j only with --batch. 0 or 2. */
static int validate_extra(struct vpnscope_config *c)
{
    if (c->batch && (c->nfiles || c->ninside || c->noutside || c->router || c->iface ||
                     c->inside_if || c->outside_if))
        return die_usage("--batch takes its own paths (no -r, --inside, --router or -i)", NULL);
    if (c->batch && (c->write_path || c->mode == MODE_DASHBOARD))
        return die_usage("--batch writes a report per capture: no -w and no --ui", NULL);
    if (c->jobs && !c->batch)
        return die_usage("-j goes with --batch", NULL);
    if (c->buffer_kib && !(c->iface || c->inside_if || c->outside_if))
        return die_usage("-B goes with live capture (-i, --inside-if/--outside-if)", NULL);
    if ((c->rotate_bytes || c->rotate_secs || c->max_files) && !c->write_path)
        return die_usage("-C, -G and -W go with -w", NULL);
    if (c->max_files && !c->rotate_bytes && !c->rotate_secs)
        return die_usage("-W goes with -C or -G", NULL);
    if (c->write_path && strcmp(c->write_path, "-") == 0 && (c->rotate_bytes || c->rotate_secs))
        return die_usage("-w - (standard output) cannot rotate", NULL);
    int rc = check_rereadable("--inside", c->inside, c->ninside);
    if (rc == 0)
        rc = check_rereadable("--outside", c->outside, c->noutside);
    if (rc == 0 && c->router)
        rc = check_rereadable("--router", &c->router, 1);
    return rc;
}

/* One input mode, complete pairs; the mode to run. 0 or 2 (printed). */
static int validate(struct vpnscope_config *c)
{
    bool dual_files = c->ninside || c->noutside;
    c->live = c->iface || c->inside_if || c->outside_if;
    int rc = validate_extra(c);
    if (rc || c->batch)
        return rc;
    int modes = (c->nfiles > 0) + (dual_files ? 1 : 0) + (c->router != NULL) + (c->live ? 1 : 0);
    if (modes == 0)
        return die_usage("no input: give -r FILE, --inside/--outside, --router or -i IF", NULL);
    if (modes > 1)
        return die_usage("-r, --inside/--outside, --router and live capture are exclusive", NULL);
    if (dual_files && (!c->ninside || !c->noutside))
        return die_usage("--inside and --outside go together", NULL);
    if ((c->inside_if || c->outside_if) && (!c->inside_if || !c->outside_if || c->iface))
        return die_usage("--inside-if and --outside-if go together (without -i)", NULL);
    if (c->live && c->mode != MODE_DASHBOARD)
        c->mode = isatty(STDOUT_FILENO) && !c->json ? MODE_DASHBOARD : MODE_STREAM;
    if (c->live && c->export_dir && c->mode != MODE_DASHBOARD) /* the dashboard's x key only */
        return die_usage("--export reads the packets again: it needs capture files, not live "
                         "capture (the dashboard's x key reads a -w FILE)",
                         NULL);
    return 0;
}

void config_defaults(struct vpnscope_config *c)
{
    memset(c, 0, sizeof(*c));
    c->side = SIDE_SINGLE;
    c->speed = 1.0;
    c->refresh_ms = 500;
    c->max_frames = -1;
    c->count = -1;
    c->to = (struct nat_timeouts){NAT_UDP_TIMEOUT, NAT_UDP_STREAM_TIMEOUT, NAT_TCP_TIMEOUT,
                                  NAT_GRE_TIMEOUT, NAT_OTHER_TIMEOUT};
}

/* getopt_long over the whole command line: options anywhere (the words that are not options are
 * moved after them), "--" ends the options. */
static int parse_options(struct vpnscope_config *c, int argc, char **argv)
{
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "r:i:c:w:Z:B:hVnDj:C:G:W:", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == 'V') {
            c->action = opt == 'h' ? CFG_HELP : CFG_VERSION;
            return 0;
        }
        int rc = parse_input(c, opt, optarg);
        if (rc == 1)
            rc = parse_output(c, opt, optarg);
        if (rc == 1)
            rc = parse_evidence(c, opt, optarg);
        if (rc == 1)
            rc = parse_tcpdump(c, opt, optarg);
        if (rc == 2)
            return 2;
        if (rc == 1) {
            if (optopt)
                return die_usage("unknown or incomplete option", argv[optind - 1]);
            return die_usage("unknown option", argv[optind - 1]);
        }
    }
    return 0;
}

int config_parse(struct vpnscope_config *c, int argc, char **argv)
{
    config_defaults(c);
    c->batch_paths = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*c->batch_paths));
    if (!c->batch_paths) {
        fprintf(stderr, "vpnscope: out of memory\n");
        return 2;
    }
    int rc = parse_options(c, argc, argv);
    if (rc != 0 || c->action != CFG_RUN) {
        if (rc)
            config_free(c);
        return rc;
    }
    int first = optind;
    while (c->batch && first < argc && path_exists(argv[first]))
        c->batch_paths[c->nbatch++] = argv[first++];
    c->bpf = join_args(argc - first, argv + first);
    if (argc - first > 0 && !c->bpf) {
        fprintf(stderr, "vpnscope: out of memory\n");
        config_free(c);
        return 2;
    }
    rc = validate(c);
    if (rc)
        config_free(c);
    return rc;
}

void config_free(struct vpnscope_config *c)
{
    free(c->bpf);
    c->bpf = NULL;
    free(c->batch_paths);
    c->batch_paths = NULL;
    c->nbatch = 0;
}
