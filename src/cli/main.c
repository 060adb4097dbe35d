/* urial — command line entry: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: urial COMMAND [options]\n");
        return argc < 2 ? 1 : 0;
    }
    fprintf(stderr, "urial: unknown command '%s' (try urial --help)\n", argv[1]);
    return 1;
}
