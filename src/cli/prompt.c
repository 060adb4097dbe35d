/* urial prompt [--urial NAME|FILE | --template NAME] --query TEXT [--history FILE] [-m MODEL]
 * — print the exact text a model would be given, and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/chat.h"

static const char USAGE[] =
    "usage: urial prompt [--urial NAME|FILE | --template NAME | --zero-shot | --retrieve POOL] --query TEXT\n"
    "                    [--history FILE] [-m MODEL]\n"
    "Print the exact prompt text the model sees for QUERY (no newline is added), then exit.\n"
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
    const char *query = NULL, *history = NULL, *system = NULL, *model = NULL;
    int show_list = 0;
    cli_format fmt;
    cli_format_init(&fmt);
    const cli_opt opts[] = {
        OPT_GROUP(fmt.opts), OPT_STR("query", 0, "TEXT", &query, "the user's message"),
        OPT_STR("history", 0, "FILE", &history,
                "earlier turns: a JSON array of {\"role\",\"content\"} messages, or\n"
                "{\"messages\": [...]}; roles system (templates only), user, assistant"),
        OPT_STR("system", 0, "TEXT", &system, "a system message (templates only; instead of one in --history)"),
        OPT_STR("model", 'm', "MODEL.gguf", &model,
                "GGUF file whose tokenizer.chat_template / general.name --template auto uses"),
        OPT_FLAG("list", 0, &show_list, "list the built-in URIAL prompts and the templates"), OPT_END};
    const cli_cmd cmd = {"prompt", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (show_list) return list(), 0;
    if (cli_format_check(&fmt, "prompt")) return 1;
    if (!query) return cli_fail("prompt: --query TEXT is required (see urial prompt --help)");

    ur_chat *f = cli_format_open(&fmt, "prompt", model, NULL);
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
    if (fmt.prefix_from && ur_chat_answer_prefix(f, query, strlen(query), &out) == 0) {
        cli_fail("prompt: %s has no answer to the --query (--prefix-from continues the aligned answer to an "
                 "instruction of that file)", fmt.prefix_from);
        goto done;
    }
    out.len = 0;
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
