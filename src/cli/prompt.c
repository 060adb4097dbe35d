/* urial prompt [--urial NAME|FILE | --template NAME] --query TEXT [--history FILE] [-m MODEL]
 * — print the exact text a model would be given, and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/chat.h"

static const char *HELP =
    "usage: urial prompt [--urial NAME|FILE | --template NAME] --query TEXT [--history FILE] [-m MODEL]\n"
    "Print the exact prompt text the model sees for QUERY (no newline is added), then exit.\n"
    "  --urial NAME|FILE   URIAL prompt for a base model: a built-in name (default urial-k3) or a\n"
    "                      prompt file in the URIAL authors' format (e.g. inst_1k_v4.help.txt)\n"
    "  --template NAME     an aligned model's chat template, or 'auto' to read it from -m MODEL\n"
    "  --query TEXT        the user's message\n"
    "  --history FILE      earlier turns: a JSON array of {\"role\",\"content\"} messages, or\n"
    "                      {\"messages\": [...]}; roles system (templates only), user, assistant\n"
    "  --system TEXT       a system message (templates only; instead of one in --history)\n"
    "  -m, --model MODEL   GGUF file whose tokenizer.chat_template / general.name --template auto uses\n"
    "  --list              list the built-in URIAL prompts and the templates\n"
    "With neither --urial nor --template, the default URIAL prompt is used.\n";

static void list(void) {
    int n;
    const ur_chat_info *l = ur_chat_list(UR_CHAT_URIAL, &n);
    printf("URIAL prompts (--urial NAME; or --urial FILE):\n");
    for (int i = 0; i < n; i++) printf("  %-24s %s\n", l[i].name, l[i].desc);
    l = ur_chat_list(UR_CHAT_TEMPLATE, &n);
    printf("templates (--template NAME; or --template auto -m MODEL):\n");
    for (int i = 0; i < n; i++) printf("  %-24s %s\n", l[i].name, l[i].desc);
}

int cmd_prompt(int argc, char **argv) {
    enum { O_URIAL = 256, O_TEMPLATE, O_QUERY, O_HISTORY, O_SYSTEM, O_LIST };
    static const struct option opts[] = {
        {"urial", required_argument, 0, O_URIAL},     {"template", required_argument, 0, O_TEMPLATE},
        {"query", required_argument, 0, O_QUERY},     {"history", required_argument, 0, O_HISTORY},
        {"system", required_argument, 0, O_SYSTEM},   {"model", required_argument, 0, 'm'},
        {"list", no_argument, 0, O_LIST},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *urial = NULL, *tmpl = NULL, *query = NULL, *history = NULL, *system = NULL, *model = NULL;
    int c;
    while ((c = cli_getopt(argc, argv, "m:h", opts, "prompt")) != -1) {
        switch (c) {
        case O_URIAL: urial = optarg; break;
        case O_TEMPLATE: tmpl = optarg; break;
        case O_QUERY: query = optarg; break;
        case O_HISTORY: history = optarg; break;
        case O_SYSTEM: system = optarg; break;
        case 'm': model = optarg; break;
        case O_LIST: list(); return 0;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (optind != argc) return cli_fail("prompt: unexpected argument '%s'", argv[optind]);
    if (urial && tmpl) return cli_fail("prompt: give either --urial or --template, not both");
    if (!query) return cli_fail("prompt: --query TEXT is required (see urial prompt --help)");

    ur_chat *f = cli_open_format("prompt", urial, tmpl, model, NULL);
    if (!f) return 1;
    ur_err err = {{0}};
    ur_conv conv = {0};
    ur_buf out = {0};
    int rc = 1;
    if (system) ur_conv_add(&conv, UR_ROLE_SYSTEM, system, strlen(system));
    if (history && ur_conv_load_json(&conv, history, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    ur_conv_add(&conv, UR_ROLE_USER, query, strlen(query));
    if (ur_chat_render(f, conv.msgs, conv.n, 1, &out, &err)) {
        if (history) cli_fail("%s (with --history %s)", err.msg, history);
        else cli_fail("%s", err.msg);
        goto done;
    }
    fwrite(out.data, 1, out.len, stdout);
    rc = fflush(stdout) ? cli_fail("prompt: cannot write to stdout") : 0;
done:
    ur_buf_free(&out);
    ur_conv_free(&conv);
    ur_chat_free(f);
    return rc;
}
