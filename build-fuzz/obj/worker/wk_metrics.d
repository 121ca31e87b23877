build-fuzz/obj/worker/wk_metrics.o: worker/wk_metrics.c \
  worker/wk_metrics.h common/metrics.h common/buf.h common/err.h \
  sandbox/sbx.h model/llm.h common/config.h

worker/wk_metrics.h:

common/metrics.h:

common/buf.h:

common/err.h:

sandbox/sbx.h:

model/llm.h:

common/config.h:
