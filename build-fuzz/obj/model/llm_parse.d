build-fuzz/obj/model/llm_parse.o: model/llm_parse.c common/buf.h \
  common/json.h common/err.h model/llm.h common/config.h

common/buf.h:

common/json.h:

common/err.h:

model/llm.h:

common/config.h:
