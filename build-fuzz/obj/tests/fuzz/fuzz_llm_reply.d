build-fuzz/obj/tests/fuzz/fuzz_llm_reply.o: tests/fuzz/fuzz_llm_reply.c \
  model/llm.h common/config.h common/err.h

model/llm.h:

common/config.h:

common/err.h:
