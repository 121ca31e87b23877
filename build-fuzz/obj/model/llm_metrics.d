build-fuzz/obj/model/llm_metrics.o: model/llm_metrics.c model/llm.h \
  common/config.h common/err.h common/metrics.h common/buf.h

model/llm.h:

common/config.h:

common/err.h:

common/metrics.h:

common/buf.h:
