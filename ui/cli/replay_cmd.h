/* replay_cmd.h — `llmscope replay TRACE -m OTHER`: re-score a traced transcript with
 * another model file, teacher-forced, and compare the two models token by token. The
 * reading and the comparison live in model/replay.h (the app's /compare uses them too). */
#ifndef LLMSCOPE_REPLAY_CMD_H
#define LLMSCOPE_REPLAY_CMD_H

#include "replay.h"

/* argv[0] is "replay". Returns the process exit status (0, 1 failure, 2 usage). */
int replay_main(int argc, char **argv);

#endif
