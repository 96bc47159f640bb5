"""DynamoDB access: the only package that touches boto3 tables."""
