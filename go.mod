module github.com/auditlane/auditlane

go 1.26
