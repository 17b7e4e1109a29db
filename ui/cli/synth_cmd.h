/* synth_cmd.h — `llmscope synth`: write a random-weight model of a real model's shape. */
#ifndef LLMSCOPE_SYNTH_CMD_H
#define LLMSCOPE_SYNTH_CMD_H

/* argv[0] is "synth". Returns the process exit status. */
int synth_main(int argc, char **argv);

#endif
