build-fuzz/obj/model/llm.o: model/llm.c model/llm.h common/config.h \
  common/err.h common/buf.h common/clock.h common/log.h

model/llm.h:

common/config.h:

common/err.h:

common/buf.h:

common/clock.h:

common/log.h:
