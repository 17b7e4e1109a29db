/* bench_cmd.h — `llmscope bench`: prompt and decode speed, capture on and off. */
#ifndef LLMSCOPE_BENCH_CMD_H
#define LLMSCOPE_BENCH_CMD_H

/* argv[0] is "bench". Returns the process exit status. */
int bench_main(int argc, char **argv);

#endif
