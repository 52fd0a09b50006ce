// Package depsprobe pins dependencies that packages under construction will
// import; it is removed once they do.
package depsprobe

import (
	_ "github.com/aliyun/aliyun-log-go-sdk"
	_ "github.com/aliyun/credentials-go/credentials"
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/aws/smithy-go"
	_ "github.com/buger/jsonparser"
	_ "github.com/cenkalti/backoff/v5"
	_ "github.com/valyala/fastjson"
	_ "go.yaml.in/yaml/v3"
	_ "k8s.io/apiserver/pkg/audit/policy"
	_ "k8s.io/apiserver/pkg/apis/audit"
	_ "k8s.io/apiserver/pkg/apis/audit/v1"
	_ "k8s.io/apiserver/pkg/apis/audit/validation"
)
