build-fuzz/obj/model/llm_cfg.o: model/llm_cfg.c model/llm.h \
  common/config.h common/err.h

model/llm.h:

common/config.h:

common/err.h:
