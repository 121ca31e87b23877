build-fuzz/obj/model/llm_fence.o: model/llm_fence.c model/llm.h \
  common/config.h common/err.h

model/llm.h:

common/config.h:

common/err.h:
