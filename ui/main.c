/* main.c — placeholder until the command line lands (see ui/cli.c). */
#include <stdio.h>
int main(void) {
    fprintf(stderr, "llmscope: not built yet\n");
    return 1;
}
