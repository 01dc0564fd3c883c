/* The public headers compile as C, and a C program links against the installed libraries. */
#include <stdio.h>
#include <string.h>

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
  {
    /* A C caller may pass any int as an enum: the library keeps it as an int and refuses it by name. */
    int64_t dims[2] = {1, 8};
    int32_t weight[8] = {0};
    uint8_t out[4];
    aclTensor *w = aclCreateTensor(dims, 2, ACL_INT32, NULL, 0, ACL_FORMAT_ND, dims, 2, weight);
    aclTensor *o = aclCreateTensor(dims, 2, ACL_INT4, NULL, 0, (aclFormat)248, dims, 2, out);
    aclFormat back = ACL_FORMAT_UNDEFINED;
    if (w == NULL || o == NULL || aclGetFormat(o, &back) != 0 || (int)back != 248) return 4;
    status = aclnnConvertWeightToINT4PackGetWorkspaceSize(w, o, &workspace, &executor);
    const char *message = aclGetRecentErrMsg();
    if (status != ACLNN_ERR_PARAM_INVALID || message == NULL || strstr(message, "UNKNOWN(248)") == NULL) return 5;
    printf("C: format 248 -> %d (%s)\n", (int)status, message);
    aclDestroyTensor(w);
    aclDestroyTensor(o);
  }
  return aclFinalize() == ACL_SUCCESS ? 0 : 3;
}
