/*
 * flbharness: drives a Fluent Bit Go output plugin (a c-shared .so) exactly
 * as Fluent Bit's Go proxy does (src/flb_plugin_proxy.c, src/proxy/go/go.c),
 * without Fluent Bit. The structs below mirror, field for field, Fluent Bit's
 * include/fluent-bit/flb_plugin_proxy.h, src/proxy/go/go.h and the start of
 * struct flb_api, and fluent-bit-go's output/flb_plugin.h and flb_output.h.
 *
 * Usage: flbharness PLUGIN.so SCRIPT
 *
 * SCRIPT is read line by line (blank lines and lines starting with '#' are
 * ignored); each command prints one result line on stdout:
 *   new ID                      create an output instance ID
 *   set ID KEY VALUE...         set a property (VALUE is the rest of the line)
 *   init ID                     -> "init ID RC"
 *   flush ID TAG FILE           flush FILE's bytes once -> "flush ID RC"
 *   flush_until ID TAG FILE MAX SLEEP_MS
 *                               flush until the answer is not FLB_RETRY, at
 *                               most MAX times -> "flush_until ID RC1,RC2,..."
 *   repeat ID TAG FILE N        flush N times (benchmarks) -> "repeat ID OK ERR RETRY NS"
 *   exit ID                     -> "exit ID RC"
 *   sleep MS
 *   rss LABEL                   -> "rss LABEL KB" (VmRSS of this process)
 *
 * After each flush the chunk buffer is overwritten before it is freed, as
 * Fluent Bit reuses chunk memory: a plugin keeping references fails.
 *
 * It stands in for Fluent Bit 5.1.1: "flbharness --version" prints that
 * version (the plugin asks), and a config map the plugin registers is
 * checked before init as flb_config_map_properties_check does: an unknown
 * property fails init with Fluent Bit's message, and the plugin's init is
 * not called.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* include/fluent-bit/flb_plugin_proxy.h */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

/* include/fluent-bit/flb_config_map.h (5.0.3+): the registration fields,
 * then the value and the list head Fluent Bit fills in its copies. */
struct flb_config_map {
    int type;
    char *name;
    char *def_value;
    int flags;
    int set_property;
    unsigned long offset;
    char *desc;
    void *value_val;
    void *value_raw;
    void *value_mult;
    void *value_head[2];
    void *head[2];
};

/* include/fluent-bit/flb_api.h: only output_get_property (offset 0) is
 * used by Go output plugins. */
struct flb_api {
    char *(*output_get_property)(const char *, void *);
    char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

/* include/fluent-bit/flb_plugin_proxy.h */
struct flb_plugin_proxy_context {
    void *remote_context; /* set by FLBPluginSetContext */
    void *proxy;
};

/* src/proxy/go/go.h */
struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;

    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *, size_t, const char *);
    int (*cb_flush_ctx)(void *, const void *, size_t, char *);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *);
};

struct prop {
    char *key;
    char *val;
    struct prop *next;
};

/* Stands in for struct flb_output_instance: what o_ins points to. */
struct instance {
    char id[64];
    struct prop *props;
    struct flb_plugin_proxy_context *context;
    int initialised;
    struct instance *next;
};

static struct instance *instances;
static struct flbgo_output_plugin *plugin;
static struct flb_config_map *config_map; /* the plugin's, or NULL */

/* flb_config_map_properties_check: every property must be in the map. */
static int properties_check(struct instance *ins)
{
    struct prop *p;
    struct flb_config_map *m;
    if (!config_map) {
        return 0;
    }
    for (p = ins->props; p; p = p->next) {
        int found = 0;
        for (m = config_map; m->name; m++) {
            if (strcasecmp(m->name, p->key) == 0) {
                found = 1;
                break;
            }
        }
        if (!found) {
            fprintf(stderr, "[error] [config] %s: unknown configuration property '%s'. The following properties are allowed:", plugin->name, p->key);
            for (m = config_map; m->name; m++) {
                fprintf(stderr, " %s", m->name);
            }
            fprintf(stderr, ".\n");
            return -1;
        }
    }
    return 0;
}

/* flb_output_get_property: case-insensitive lookup, NULL when unset. */
static char *output_get_property(const char *key, void *o_ins)
{
    struct instance *ins = o_ins;
    struct prop *p;
    for (p = ins->props; p; p = p->next) {
        if (strcasecmp(p->key, key) == 0) {
            return p->val;
        }
    }
    return NULL;
}

static struct flb_api api = {.output_get_property = output_get_property};

static struct instance *find(const char *id)
{
    struct instance *i;
    for (i = instances; i; i = i->next) {
        if (strcmp(i->id, id) == 0) {
            return i;
        }
    }
    fprintf(stderr, "harness: unknown instance %s\n", id);
    exit(2);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "harness: cannot read %s\n", path);
        exit(2);
    }
    buf = malloc(n > 0 ? n : 1);
    if (!buf || fread(buf, 1, n, f) != (size_t) n) {
        fprintf(stderr, "harness: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* proxy_go_output_flush: the tag is copied into a NUL-terminated buffer,
 * the chunk is passed as is. */
static int flush_once(struct instance *ins, const char *tag, const char *path)
{
    size_t len, tag_len = strlen(tag);
    unsigned char *data = read_file(path, &len);
    char *buf = malloc(tag_len + 1);
    int ret;
    memcpy(buf, tag, tag_len);
    buf[tag_len] = '\0';
    if (plugin->cb_flush_ctx) {
        ret = plugin->cb_flush_ctx(ins->context->remote_context, data, len, buf);
    } else {
        ret = plugin->cb_flush(data, len, buf);
    }
    memset(data, 0xc1, len); /* 0xc1: never valid msgpack */
    memset(buf, 'X', tag_len);
    free(buf);
    free(data);
    return ret;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    void *so;
    int (*cb_register)(struct flb_plugin_proxy_def *);
    struct flb_plugin_proxy_def *def;
    FILE *script;
    char line[8192];

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("Fluent Bit v5.1.1 (flbharness: the Go proxy of 5.1.1)\n");
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s PLUGIN.so SCRIPT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* flb_plugin_proxy_create + flb_plugin_proxy_register */
    so = dlopen(argv[1], RTLD_LAZY);
    if (!so) {
        fprintf(stderr, "harness: dlopen: %s\n", dlerror());
        return 2;
    }
    cb_register = (int (*)(struct flb_plugin_proxy_def *)) dlsym(so, "FLBPluginRegister");
    if (!cb_register) {
        fprintf(stderr, "harness: no FLBPluginRegister\n");
        return 2;
    }
    def = calloc(1, sizeof(*def));
    if (cb_register(def) == -1) {
        fprintf(stderr, "harness: FLBPluginRegister failed\n");
        return 2;
    }
    if (def->type != FLB_PROXY_OUTPUT_PLUGIN || def->proxy != FLB_PROXY_GOLANG || !def->name) {
        fprintf(stderr, "harness: bad registration type=%d proxy=%d\n", def->type, def->proxy);
        return 2;
    }
    config_map = def->config_map;
    {
        int n = 0;
        struct flb_config_map *m;
        for (m = config_map; m && m->name; m++) {
            n++;
        }
        printf("register %s type=%d proxy=%d event_type=%d config_map=%d\n", def->name, def->type, def->proxy, def->event_type, n);
    }

    /* proxy_go_output_register */
    plugin = calloc(1, sizeof(*plugin));
    plugin->cb_init = (int (*)(struct flbgo_output_plugin *)) dlsym(so, "FLBPluginInit");
    if (!plugin->cb_init) {
        fprintf(stderr, "harness: could not load FLBPluginInit symbol\n");
        return 2;
    }
    plugin->cb_flush = (int (*)(const void *, size_t, const char *)) dlsym(so, "FLBPluginFlush");
    plugin->cb_flush_ctx = (int (*)(void *, const void *, size_t, char *)) dlsym(so, "FLBPluginFlushCtx");
    plugin->cb_exit = (int (*)(void)) dlsym(so, "FLBPluginExit");
    plugin->cb_exit_ctx = (int (*)(void *)) dlsym(so, "FLBPluginExitCtx");
    plugin->name = strdup(def->name);

    script = fopen(argv[2], "r");
    if (!script) {
        fprintf(stderr, "harness: cannot open %s\n", argv[2]);
        return 2;
    }
    while (fgets(line, sizeof(line), script)) {
        char cmd[32], id[64], a[1024], b[4096];
        long n1, n2;
        struct instance *ins;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#' || sscanf(line, "%31s", cmd) != 1) {
            continue;
        }
        if (strcmp(cmd, "new") == 0 && sscanf(line, "%*s %63s", id) == 1) {
            ins = calloc(1, sizeof(*ins));
            strcpy(ins->id, id);
            /* flb_output_new: a fresh proxy context per instance */
            ins->context = calloc(1, sizeof(*ins->context));
            ins->next = instances;
            instances = ins;
        } else if (strcmp(cmd, "set") == 0 && sscanf(line, "%*s %63s %1023s", id, a) == 2) {
            struct prop *p = calloc(1, sizeof(*p));
            char *v = strstr(line, a) + strlen(a);
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            ins = find(id);
            p->key = strdup(a);
            p->val = strdup(v);
            p->next = ins->props;
            ins->props = p;
        } else if (strcmp(cmd, "init") == 0 && sscanf(line, "%*s %63s", id) == 1) {
            int ret;
            ins = find(id);
            /* flb_output_plugin_property_check, before the plugin's init */
            if (properties_check(ins) != 0) {
                printf("init %s %d\n", id, FLB_ERROR);
                continue;
            }
            /* proxy_go_output_init */
            plugin->api = &api;
            plugin->o_ins = ins;
            plugin->context = ins->context;
            ret = plugin->cb_init(plugin);
            ins->initialised = ret > 0;
            printf("init %s %d\n", id, ret);
        } else if (strcmp(cmd, "flush") == 0 && sscanf(line, "%*s %63s %1023s %4095s", id, a, b) == 3) {
            printf("flush %s %d\n", id, flush_once(find(id), a, b));
        } else if (strcmp(cmd, "flush_until") == 0 &&
                   sscanf(line, "%*s %63s %1023s %4095s %ld %ld", id, a, b, &n1, &n2) == 5) {
            long i;
            int ret = FLB_RETRY;
            ins = find(id);
            printf("flush_until %s ", id);
            for (i = 0; i < n1 && ret == FLB_RETRY; i++) {
                if (i > 0) {
                    sleep_ms(n2);
                }
                ret = flush_once(ins, a, b);
                printf(i ? ",%d" : "%d", ret);
                fflush(stdout);
            }
            printf("\n");
        } else if (strcmp(cmd, "repeat") == 0 && sscanf(line, "%*s %63s %1023s %4095s %ld", id, a, b, &n1) == 4) {
            long i, counts[3] = {0, 0, 0};
            long long start = now_ns();
            ins = find(id);
            for (i = 0; i < n1; i++) {
                int ret = flush_once(ins, a, b);
                if (ret >= 0 && ret <= 2) {
                    counts[ret]++;
                }
            }
            printf("repeat %s %ld %ld %ld %lld\n", id, counts[FLB_OK], counts[FLB_ERROR], counts[FLB_RETRY], now_ns() - start);
        } else if (strcmp(cmd, "exit") == 0 && sscanf(line, "%*s %63s", id) == 1) {
            int ret = 0;
            ins = find(id);
            /* proxy_go_output_destroy */
            if (plugin->cb_exit_ctx) {
                ret = plugin->cb_exit_ctx(ins->context->remote_context);
            } else if (plugin->cb_exit) {
                ret = plugin->cb_exit();
            }
            printf("exit %s %d\n", id, ret);
        } else if (strcmp(cmd, "sleep") == 0 && sscanf(line, "%*s %ld", &n1) == 1) {
            sleep_ms(n1);
        } else if (strcmp(cmd, "rss") == 0 && sscanf(line, "%*s %1023s", a) == 1) {
            printf("rss %s %ld\n", a, rss_kb());
        } else {
            fprintf(stderr, "harness: bad script line: %s\n", line);
            return 2;
        }
    }
    fclose(script);
    return 0;
}
