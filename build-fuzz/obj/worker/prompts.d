build-fuzz/obj/worker/prompts.o: worker/prompts.c worker/prompts.h \
  common/err.h model/llm.h common/config.h common/buf.h

worker/prompts.h:

common/err.h:

model/llm.h:

common/config.h:

common/buf.h:
