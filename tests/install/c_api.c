/* The public headers compile as C, and a C program links against the installed libraries. */
#include <stdio.h>

#include "acl/acl.h"
#include "aclnn/aclnn_base.h"
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "aclnnop/aclnn_int4_pack_to_weight.h"

int main(void) {
  uint64_t workspace = 0;
  aclOpExecutor *executor = NULL;
  aclnnStatus status;
  if (aclInit(NULL) != ACL_SUCCESS) return 1;
  status = aclnnConvertWeightToINT4PackGetWorkspaceSize(NULL, NULL, &workspace, &executor);
  if (status != ACLNN_ERR_PARAM_NULLPTR) return 2;
  printf("C: null weight -> %d (%s)\n", (int)status, aclGetRecentErrMsg());
  return aclFinalize() == ACL_SUCCESS ? 0 : 3;
}
